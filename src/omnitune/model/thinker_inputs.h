// model/thinker_inputs: one micro-batch, the one type from collate to forward — the thinker's forward
// arguments named as in transformers, plus the trainer's label weights and the rows it came from. Code
// that handles "every input" (device moves, batch files, dumps) walks them with for_each_input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <ATen/Tensor.h>

namespace omnitune {

struct ThinkerInputs {
  at::Tensor input_ids;               // [B, S] int64
  at::Tensor attention_mask;          // [B, S] 1 = real token
  at::Tensor labels;                  // [B, S] int64, kIgnoreIndex = no loss
  at::Tensor pixel_values;            // [N_img_patches, patch_dim]
  at::Tensor image_grid_thw;          // [n_images, 3] int64
  at::Tensor pixel_values_videos;     // [N_vid_patches, patch_dim]
  at::Tensor video_grid_thw;          // [n_videos, 3] int64
  at::Tensor video_second_per_grid;   // [n_videos] float
  at::Tensor input_features;          // [n_audios, mel, T] float
  at::Tensor feature_attention_mask;  // [n_audios, T] 1 = valid frame
  bool use_audio_in_video = false;
  at::Tensor label_weights;          // [B, S] weight of each label in the loss (sum); undefined = mean
  double aux_loss_scale = 1.0;       // weight of the router aux loss in `loss` (the trainer's 1 / micro-batches)
  std::vector<std::string> sources;  // where each row came from ("<file> row R (line L)"), for messages
};

// The label that takes no part in the loss (PyTorch's cross-entropy ignore_index, transformers' -100).
inline constexpr int64_t kIgnoreIndex = -100;

// f(name, tensor) for the ten transformers forward arguments, in their order (label_weights, which is not
// one, is left out). Undefined tensors are visited too: callers skip them as they need.
template <class Inputs, class F>
void for_each_input(Inputs& in, F&& f) {
  f(std::string_view("input_ids"), in.input_ids);
  f(std::string_view("attention_mask"), in.attention_mask);
  f(std::string_view("labels"), in.labels);
  f(std::string_view("pixel_values"), in.pixel_values);
  f(std::string_view("image_grid_thw"), in.image_grid_thw);
  f(std::string_view("pixel_values_videos"), in.pixel_values_videos);
  f(std::string_view("video_grid_thw"), in.video_grid_thw);
  f(std::string_view("video_second_per_grid"), in.video_second_per_grid);
  f(std::string_view("input_features"), in.input_features);
  f(std::string_view("feature_attention_mask"), in.feature_attention_mask);
}

// The names for_each_input visits.
std::vector<std::string> thinker_input_names();

// The batch on `device`, floating tensors cast to `compute` (as the seed casts every floating batch tensor
// to param_dtype); label_weights and sources come along unchanged.
ThinkerInputs to_device(const ThinkerInputs& in, at::Device device, at::ScalarType compute);

}  // namespace omnitune
