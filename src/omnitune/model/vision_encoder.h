// model/vision_encoder: the thinker's vision tower (`thinker.visual`): patches of images and videos ->
// LLM-sized visual tokens (one per 2x2 patch block) plus the deepstack features for the first decoder layers.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "omnitune/model/attention.h"
#include "omnitune/model/config.h"
#include "omnitune/model/context_parallel.h"
#include "omnitune/model/layers.h"
#include "omnitune/model/recompute.h"

namespace omnitune {

struct VisionOutput {
  at::Tensor tokens;                  // [N/4, out_hidden]  (N = sum t*h*w patches)
  std::vector<at::Tensor> deepstack;  // one [N/4, out_hidden] per deepstack_visual_indexes entry, in order
};

// Where every patch sits, derived from grid_thw once per forward and shared by all blocks.
struct VisionLayout {
  std::vector<int64_t> cu_seqlens;  // per-frame attention segments: 0, h*w, 2*h*w, ... (t times per item)
  at::Tensor rows, cols;            // [N] int64 (CPU): full-resolution patch row / column, merge-block order
};

// Self-attention over the patches of one frame, with 2-D rotary on q and k (in fp32).
class VisionAttentionImpl : public torch::nn::Module {
 public:
  VisionAttentionImpl(const VisionConfig& config, AttentionBackend backend);
  // x [N, H]; cos, sin [N, head_dim] fp32. Returns [N, H]. With `cp`: this rank's rows of the patches,
  // cu_seqlens over all of them.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const std::vector<int64_t>& cu_seqlens, ContextParallelComm* cp = nullptr);

  Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t heads_, head_dim_;
  AttentionBackend backend_;
};
TORCH_MODULE(VisionAttention);

// linear_fc2(gelu_tanh(linear_fc1(x))).
class VisionMlpImpl : public torch::nn::Module {
 public:
  explicit VisionMlpImpl(const VisionConfig& config);
  at::Tensor forward(const at::Tensor& x);  // [N, H] -> [N, H]

  Linear linear_fc1{nullptr}, linear_fc2{nullptr};

 private:
  Activation activation_;
};
TORCH_MODULE(VisionMlp);

// Pre-LN transformer block: x += attn(norm1(x)); x += mlp(norm2(x)).
class VisionBlockImpl : public torch::nn::Module {
 public:
  VisionBlockImpl(const VisionConfig& config, AttentionBackend backend);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const std::vector<int64_t>& cu_seqlens,
                     ContextParallelComm* cp = nullptr);  // [N, H] -> [N, H]

  LayerNorm norm1{nullptr}, norm2{nullptr};
  VisionAttention attn{nullptr};
  VisionMlp mlp{nullptr};
};
TORCH_MODULE(VisionBlock);

// Patch merger: each 2x2 block of patches (4 consecutive rows) -> one LLM token.
// LayerNorm `ln_q` on each patch (final merger) or on the concatenated block (post-shuffle, deepstack),
// then mlp.0 (Linear 4H -> 4H), exact GELU, mlp.2 (Linear 4H -> out_hidden).
class VisionPatchMergerImpl : public torch::nn::Module {
 public:
  VisionPatchMergerImpl(const VisionConfig& config, bool postshuffle_norm);
  at::Tensor forward(const at::Tensor& x);  // [N, H] -> [N/4, out_hidden]

  LayerNorm ln_q{nullptr};
  Linear fc1{nullptr}, fc2{nullptr};  // registered as mlp.0 and mlp.2

 private:
  int64_t merged_size_;
  bool postshuffle_norm_;
};
TORCH_MODULE(VisionPatchMerger);

// Conv3d with kernel = stride = (tp, p, p) on one patch each, i.e. a matmul with the flattened kernel.
class VisionPatchEmbedImpl : public torch::nn::Module {
 public:
  explicit VisionPatchEmbedImpl(const VisionConfig& config);
  at::Tensor forward(const at::Tensor& pixel_values);  // [N, patch_dim] -> [N, H]

  ConvWeights proj{nullptr};  // weight [H, C, tp, p, p], bias [H]
};
TORCH_MODULE(VisionPatchEmbed);

class VisionEncoderImpl : public torch::nn::Module {
 public:
  explicit VisionEncoderImpl(const VisionConfig& config, AttentionBackend backend = {});
  // pixel_values [N, patch_dim] (cast to the weights' dtype); grid_thw [n, 3] int64 (any device);
  // activations: per-block recompute / offload. cp: the patches are split over the group (when it divides
  // the heads; else each rank runs them all) and the outputs gathered, complete on every rank.
  VisionOutput forward(const at::Tensor& pixel_values, const at::Tensor& grid_thw,
                       const ActivationMemory& activations = {}, ContextParallelComm* cp = nullptr);

  const VisionConfig& config() const { return config_; }
  // The wrapping units forward() runs, in its order: the blocks, each DeepStack merger after its block, the
  // merger.
  std::vector<torch::nn::Module*> units();

  torch::nn::ModuleList merger_list{nullptr};  // VisionPatchMerger, one per deepstack index
  VisionPatchEmbed patch_embed{nullptr};
  Embedding pos_embed{nullptr};           // [side*side, H] learned table, bilinearly resampled
  torch::nn::ModuleList blocks{nullptr};  // VisionBlock x depth
  VisionPatchMerger merger{nullptr};

 private:
  // Checked grid ([n, 3] int64 on the CPU) and the patch layout it implies for `patches` rows.
  at::Tensor checked_grid(const at::Tensor& grid_thw, int64_t patches) const;
  VisionLayout layout_of(const at::Tensor& grid) const;
  at::Tensor position_embedding(const at::Tensor& grid) const;  // [N, H] fp32, merge-block order
  std::pair<at::Tensor, at::Tensor> rotary(const VisionLayout& layout, const at::Device& device) const;  // cos, sin
  int64_t tap_of(int64_t block) const;  // the DeepStack merger fed by `block`, -1 for none
  static at::Tensor merge(const std::shared_ptr<VisionPatchMergerImpl>& unit, const at::Tensor& x);  // one unit

  VisionConfig config_;
  AttentionBackend backend_;
  int64_t side_;  // the position table is side x side
};
TORCH_MODULE(VisionEncoder);

}  // namespace omnitune
