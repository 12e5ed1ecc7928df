#include "omnitune/train/flops.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "omnitune/model/audio_lengths.h"

namespace omnitune {

namespace {

constexpr double kForwardBackward = 3.0;  // backward = 2 x forward

double text_forward(const TextConfig& c, const at::Tensor& attention_mask, int64_t lm_head_rows) {
  const double h = c.hidden_size, hd = c.head_dim > 0 ? c.head_dim : c.hidden_size / c.num_attention_heads;
  const double heads = c.num_attention_heads, kv = c.num_key_value_heads;
  at::Tensor lengths = attention_mask.defined() ? attention_mask.sum(1).to(at::kDouble) : at::Tensor();
  double tokens = 0, square = 0;  // sum of S and of S^2 over samples
  for (int64_t b = 0; b < attention_mask.size(0); ++b) {
    double s = lengths[b].item<double>();
    tokens += s, square += s * s;
  }
  double macs = 0;
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    macs += tokens * h * hd * (2 * heads + 2 * kv);  // q, k, v, o
    macs += square * heads * hd;                     // QK^T and AV, causal half of 2 x S^2
    macs += c.is_moe_layer(layer)
                ? tokens * (h * c.num_experts + c.num_experts_per_tok * 3.0 * h * c.moe_intermediate_size)
                : tokens * 3.0 * h * c.intermediate_size;
  }
  macs += static_cast<double>(lm_head_rows) * h * c.vocab_size;
  return 2 * macs;
}

double vision_forward(const VisionConfig& c, const at::Tensor& grid_thw) {
  if (!grid_thw.defined()) return 0;
  const double h = c.hidden_size, merge = c.spatial_merge_size * c.spatial_merge_size;
  double macs = 0;
  for (int64_t i = 0; i < grid_thw.size(0); ++i) {
    const double t = grid_thw[i][0].item<double>(), hh = grid_thw[i][1].item<double>(),
                 w = grid_thw[i][2].item<double>();
    const double frame = hh * w, n = t * frame;
    macs += n * c.patch_dim() * h;                                    // patch embedding
    macs += c.depth * (n * (4 * h * h + 2 * h * c.intermediate_size)  // qkv, proj, mlp
                       + 2 * t * frame * frame * h);                  // attention within each frame
    const double merged = n / merge, wide = h * merge;
    macs += (1 + c.deepstack_visual_indexes.size()) * merged * (wide * wide + wide * c.out_hidden_size);
  }
  return 2 * macs;
}

double audio_forward(const AudioConfig& c, const at::Tensor& feature_attention_mask) {
  if (!feature_attention_mask.defined()) return 0;
  const double d = c.d_model, ch = c.downsample_hidden_size;
  const double window = std::max<int64_t>(1, audio_output_length(c.n_window_infer, 2 * c.n_window));
  double macs = 0;
  for (int64_t i = 0; i < feature_attention_mask.size(0); ++i) {
    const int64_t frames = feature_attention_mask[i].sum().item<int64_t>();
    const double tokens = audio_output_length(frames, 2 * c.n_window);
    const double bins1 = conv_output_length(c.num_mel_bins), bins2 = conv_output_length(bins1),
                 bins3 = conv_output_length(bins2);
    const double t1 = frames / 2.0, t2 = frames / 4.0;
    macs += ch * 9 * bins1 * t1 + ch * ch * 9 * bins2 * t2 + ch * ch * 9 * bins3 * tokens;  // three 3x3 convs
    macs += tokens * ch * bins3 * d;                                                        // conv_out
    macs += c.encoder_layers *
            (tokens * (4 * d * d + 2 * d * c.encoder_ffn_dim) + 2 * tokens * std::min(tokens, window) * d);
    macs += tokens * (d * d + d * c.output_dim);  // proj1, proj2
  }
  return 2 * macs;
}

}  // namespace

StepFlops training_flops(const ThinkerConfig& config, const ThinkerInputs& batch, int64_t lm_head_rows) {
  StepFlops f;
  at::Tensor mask = batch.attention_mask.defined() ? batch.attention_mask : at::ones_like(batch.input_ids);
  f.text = kForwardBackward * text_forward(config.text, mask, lm_head_rows);
  f.vision = kForwardBackward * (vision_forward(config.vision, batch.image_grid_thw) +
                                 vision_forward(config.vision, batch.video_grid_thw));
  f.audio = kForwardBackward * audio_forward(config.audio, batch.feature_attention_mask);
  return f;
}

}  // namespace omnitune
