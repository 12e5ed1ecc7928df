#include "omnitune/model/thinker_inputs_file.h"

#include <algorithm>
#include <vector>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"
#include "omnitune/io/safetensors_file.h"
#include "omnitune/io/torch_tensors.h"

namespace omnitune {

ThinkerInputs read_thinker_inputs(const std::string& path, at::Device device) {
  SafetensorsFile file(path);
  const std::vector<std::string> names = thinker_input_names();
  for (const auto& t : file.tensors())
    if (std::find(names.begin(), names.end(), t.name) == names.end())
      throw Error(path + ": unknown batch tensor '" + t.name + "'" + did_you_mean(t.name, names));
  ThinkerInputs in;
  for_each_input(in, [&](std::string_view name, at::Tensor& t) {
    if (const TensorEntry* entry = file.find(std::string(name))) t = read_tensor(file, *entry).to(device);
  });
  if (!in.input_ids.defined()) throw Error(path + ": the batch has no 'input_ids'");
  auto flag = file.metadata().find("use_audio_in_video");
  if (flag != file.metadata().end()) {
    if (flag->second != "true" && flag->second != "false")
      throw Error(path + ": metadata use_audio_in_video must be \"true\" or \"false\", got \"" + flag->second + "\"");
    in.use_audio_in_video = flag->second == "true";
  }
  return in;
}

void write_thinker_inputs(const std::string& path, const ThinkerInputs& in,
                          std::map<std::string, std::string> metadata) {
  NamedTensors tensors;
  for_each_input(in, [&](std::string_view name, const at::Tensor& t) {
    if (t.defined()) tensors.emplace_back(std::string(name), t);
  });
  metadata["use_audio_in_video"] = in.use_audio_in_video ? "true" : "false";
  save_tensors(path, tensors, metadata);
}

void check_thinker_inputs(const ThinkerInputs& in, const ThinkerConfig& config, const std::string& where) {
  auto fail = [&](const std::string& what) { throw Error(where + ": " + what); };
  auto integral = [&](const at::Tensor& t, const char* name) {
    if (t.defined() && !at::isIntegralType(t.scalar_type(), /*includeBool=*/false))
      fail(cat(name, " must hold integers, got ", t.scalar_type()));
  };
  auto finite = [&](const at::Tensor& t, const char* name) {
    if (t.defined() && t.numel() > 0 && !at::isfinite(t.to(at::kFloat)).all().item<bool>())
      fail(cat(name, " holds NaN or infinite values"));
  };
  auto pair = [&](const at::Tensor& a, const char* a_name, const at::Tensor& b, const char* b_name) {
    if (a.defined() != b.defined())
      fail(cat(a.defined() ? a_name : b_name, " is given without ", a.defined() ? b_name : a_name));
  };
  const at::Tensor& ids = in.input_ids;
  if (!ids.defined() || ids.dim() != 2 || ids.size(0) < 1 || ids.size(1) < 1)
    fail(cat("input_ids must be [batch, sequence] with both at least 1, got ",
             ids.defined() ? cat(ids.sizes()) : "nothing"));
  integral(ids, "input_ids");
  const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
  if (lo < 0 || hi >= config.text.vocab_size)
    fail(cat("input_ids: token id ", lo < 0 ? lo : hi, " is outside the vocabulary [0, ", config.text.vocab_size, ")"));
  for (const auto& [t, name] : {std::pair{in.attention_mask, "attention_mask"}, std::pair{in.labels, "labels"}})
    if (t.defined() && t.sizes() != ids.sizes()) fail(cat(name, " is ", t.sizes(), " but input_ids is ", ids.sizes()));
  if (in.attention_mask.defined() && !((in.attention_mask == 0) | (in.attention_mask == 1)).all().item<bool>())
    fail("attention_mask must hold only 0 and 1");
  integral(in.labels, "labels");
  if (in.labels.defined()) {
    at::Tensor bad = (in.labels != kIgnoreIndex) & ((in.labels < 0) | (in.labels >= config.text.vocab_size));
    if (bad.any().item<bool>())
      fail(cat("labels: ", in.labels.masked_select(bad)[0].item<int64_t>(),
               " is neither -100 (ignored) nor a token id in [0, ", config.text.vocab_size, ")"));
  }

  pair(in.pixel_values, "pixel_values", in.image_grid_thw, "image_grid_thw");
  pair(in.pixel_values_videos, "pixel_values_videos", in.video_grid_thw, "video_grid_thw");
  pair(in.input_features, "input_features", in.feature_attention_mask, "feature_attention_mask");
  if (in.video_second_per_grid.defined() && !in.video_grid_thw.defined())
    fail("video_second_per_grid is given without a video");
  const int64_t patch_dim = config.vision.patch_dim();
  for (const auto& [pixels, grids, name] :
       {std::tuple{in.pixel_values, in.image_grid_thw, "pixel_values"},
        std::tuple{in.pixel_values_videos, in.video_grid_thw, "pixel_values_videos"}}) {
    if (!pixels.defined()) continue;
    integral(grids, name == std::string("pixel_values") ? "image_grid_thw" : "video_grid_thw");
    if (grids.dim() != 2 || grids.size(1) != 3 || grids.size(0) < 1 || (grids <= 0).any().item<bool>())
      fail(cat(name, ": its grid must be [n, 3] of positive (t, h, w), got ", grids.sizes()));
    const int64_t patches = grids.prod(1).sum().item<int64_t>();
    if (pixels.dim() != 2 || pixels.size(0) != patches || pixels.size(1) != patch_dim)
      fail(cat(name, " is ", pixels.sizes(), " but its grids need [", patches, ", ", patch_dim, "]"));
    finite(pixels, name);
  }
  if (in.input_features.defined()) {
    const at::Tensor& f = in.input_features;
    if (f.dim() != 3 || f.size(0) < 1 || f.size(1) != config.audio.num_mel_bins || f.size(2) < 1)
      fail(cat("input_features must be [audios, ", config.audio.num_mel_bins, " mel bins, frames], got ", f.sizes()));
    const at::Tensor& m = in.feature_attention_mask;
    if (m.dim() != 2 || m.size(0) != f.size(0) || m.size(1) != f.size(2))
      fail(cat("feature_attention_mask is ", m.sizes(), " but input_features is ", f.sizes()));
    finite(f, "input_features");
  }
  finite(in.label_weights, "label_weights");

  const at::Tensor real = in.attention_mask.defined() ? in.attention_mask != 0 : at::ones_like(ids, at::kBool);
  const std::tuple<int64_t, const at::Tensor*, const char*> tokens[] = {
      {config.image_token_id, &in.pixel_values, "<|image_pad|> tokens but no pixel_values"},
      {config.video_token_id, &in.pixel_values_videos, "<|video_pad|> tokens but no pixel_values_videos"},
      {config.audio_token_id, &in.input_features, "<|audio_pad|> tokens but no input_features"}};
  for (const auto& [token, inputs, what] : tokens) {
    if (inputs->defined()) continue;
    const int64_t n = ((ids == token) & real).sum().item<int64_t>();
    if (n > 0) fail(cat("input_ids hold ", n, " ", what));
  }
}

}  // namespace omnitune
