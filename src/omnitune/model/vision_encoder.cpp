#include "omnitune/model/vision_encoder.h"

#include <ATen/ATen.h>

#include <cmath>
#include <optional>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/model/unit_runner.h"

namespace omnitune {

namespace {

constexpr double kNormEps = 1e-6;
constexpr double kRopeTheta = 10000.0;

// Row-major patch indices (r * w + c) of an h x w grid listed in merge-block order:
// block row, block column, row within the block, column within the block. [h * w] int64.
at::Tensor block_order(int64_t h, int64_t w, int64_t merge) {
  return at::arange(h * w, at::kLong).view({h / merge, merge, w / merge, merge}).permute({0, 2, 1, 3}).flatten();
}

// [x1, x2] -> [-x2, x1] with halves of the last dimension.
at::Tensor rotate_half(const at::Tensor& x) {
  auto halves = x.chunk(2, -1);
  return at::cat({-halves[1], halves[0]}, -1);
}

// x [N, heads, D] rotated in fp32 by cos, sin [N, D], cast back to x's dtype.
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);  // [N, 1, D]
  return (xf * c + rotate_half(xf) * s).to(x.scalar_type());
}

LayerNorm layer_norm(int64_t size) { return LayerNorm(size, kNormEps); }

}  // namespace

// ---- attention, MLP, block -------------------------------------------------------------------------

VisionAttentionImpl::VisionAttentionImpl(const VisionConfig& config, AttentionBackend backend)
    : heads_(config.num_heads), head_dim_(config.hidden_size / config.num_heads), backend_(backend) {
  qkv = register_module("qkv", Linear(config.hidden_size, 3 * config.hidden_size, true));
  proj = register_module("proj", Linear(config.hidden_size, config.hidden_size, true));
}

at::Tensor VisionAttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                        const std::vector<int64_t>& cu_seqlens, ContextParallelComm* cp) {
  const int64_t n = x.size(0);
  auto qkv_parts = qkv->forward(x).view({n, 3, heads_, head_dim_}).unbind(1);  // 3 x [N, heads, D]
  at::Tensor q = apply_rotary(qkv_parts[0], cos, sin);
  at::Tensor k = apply_rotary(qkv_parts[1], cos, sin);
  const double scale = std::pow(static_cast<double>(head_dim_), -0.5);
  at::Tensor out = cp ? ulysses_segment_attention(*cp, q, k, qkv_parts[2], cu_seqlens, scale, backend_)
                      : segment_attention(q, k, qkv_parts[2], cu_seqlens, scale, backend_);  // [N, heads, D]
  return proj->forward(out.reshape({n, heads_ * head_dim_}));
}

VisionMlpImpl::VisionMlpImpl(const VisionConfig& config) : activation_(config.hidden_act) {
  linear_fc1 = register_module("linear_fc1", Linear(config.hidden_size, config.intermediate_size, true));
  linear_fc2 = register_module("linear_fc2", Linear(config.intermediate_size, config.hidden_size, true));
}

at::Tensor VisionMlpImpl::forward(const at::Tensor& x) {
  return linear_fc2->forward(activate(activation_, linear_fc1->forward(x)));
}

VisionBlockImpl::VisionBlockImpl(const VisionConfig& config, AttentionBackend backend) {
  norm1 = register_module("norm1", layer_norm(config.hidden_size));
  norm2 = register_module("norm2", layer_norm(config.hidden_size));
  attn = register_module("attn", VisionAttention(config, backend));
  mlp = register_module("mlp", VisionMlp(config));
}

at::Tensor VisionBlockImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                    const std::vector<int64_t>& cu_seqlens, ContextParallelComm* cp) {
  at::Tensor h = x + attn->forward(norm1->forward(x), cos, sin, cu_seqlens, cp);  // [N, H]
  return h + mlp->forward(norm2->forward(h));
}

// ---- merger, patch embedding -----------------------------------------------------------------------

VisionPatchMergerImpl::VisionPatchMergerImpl(const VisionConfig& config, bool postshuffle_norm)
    : merged_size_(config.hidden_size * config.spatial_merge_size * config.spatial_merge_size),
      postshuffle_norm_(postshuffle_norm) {
  ln_q = register_module("ln_q", layer_norm(postshuffle_norm ? merged_size_ : config.hidden_size));
  fc1 = Linear(merged_size_, merged_size_, true);
  fc2 = Linear(merged_size_, config.out_hidden_size, true);
  auto mlp = std::make_shared<torch::nn::Module>();  // Hugging Face names: mlp.0, (GELU), mlp.2
  mlp->register_module("0", fc1);
  mlp->register_module("2", fc2);
  register_module("mlp", mlp);
}

at::Tensor VisionPatchMergerImpl::forward(const at::Tensor& x) {
  at::Tensor merged = postshuffle_norm_ ? ln_q->forward(x.reshape({-1, merged_size_}))   // [N/4, 4H]
                                        : ln_q->forward(x).reshape({-1, merged_size_});  // [N/4, 4H]
  return fc2->forward(at::gelu(fc1->forward(merged)));                                   // [N/4, out_hidden]
}

VisionPatchEmbedImpl::VisionPatchEmbedImpl(const VisionConfig& config) {
  const int64_t tp = config.temporal_patch_size, p = config.patch_size;
  proj = register_module("proj", ConvWeights(std::vector<int64_t>{config.hidden_size, config.in_channels, tp, p, p}));
}

at::Tensor VisionPatchEmbedImpl::forward(const at::Tensor& pixel_values) {
  // The kernel covers the whole patch, so the convolution is one matmul with the flattened kernel
  // (the (C, tp, p, p) flatten order of the weight is the patch's own flatten order).
  at::Tensor w = proj->weight.flatten(1);  // [H, patch_dim]
  return at::linear(pixel_values.to(w.scalar_type()), w, proj->bias);
}

// ---- encoder ---------------------------------------------------------------------------------------

VisionEncoderImpl::VisionEncoderImpl(const VisionConfig& config, AttentionBackend backend)
    : config_(config), backend_(backend) {
  // A square table (load_thinker_config checks it, with the other sizes).
  side_ = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(config.num_position_embeddings))));

  // Registration order follows the reference's state dict.
  merger_list = register_module("merger_list", torch::nn::ModuleList());
  for (size_t k = 0; k < config.deepstack_visual_indexes.size(); ++k)
    merger_list->push_back(VisionPatchMerger(config, /*postshuffle_norm=*/true));
  patch_embed = register_module("patch_embed", VisionPatchEmbed(config));
  pos_embed = register_module("pos_embed", Embedding(config.num_position_embeddings, config.hidden_size));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.depth; ++i) blocks->push_back(VisionBlock(config, backend));
  merger = register_module("merger", VisionPatchMerger(config, /*postshuffle_norm=*/false));
}

at::Tensor VisionEncoderImpl::checked_grid(const at::Tensor& grid_thw, int64_t patches) const {
  if (grid_thw.dim() != 2 || grid_thw.size(1) != 3 || grid_thw.size(0) < 1)
    throw Error(cat("vision encoder: grid_thw must be [n, 3] with n >= 1, got ", grid_thw.sizes()));
  if (at::isFloatingType(grid_thw.scalar_type()) || grid_thw.scalar_type() == at::kBool)
    throw Error("vision encoder: grid_thw must hold integers");
  at::Tensor grid = grid_thw.to(at::kCPU, at::kLong).contiguous();
  const int64_t merge = config_.spatial_merge_size;
  int64_t total = 0;
  for (int64_t i = 0; i < grid.size(0); ++i) {
    const int64_t t = grid[i][0].item<int64_t>(), h = grid[i][1].item<int64_t>(), w = grid[i][2].item<int64_t>();
    if (t < 1 || h < 1 || w < 1)
      throw Error(cat("vision encoder: grid_thw[", i, "] = (", t, ", ", h, ", ", w, ") must be positive"));
    if (h % merge != 0 || w % merge != 0)
      throw Error(cat("vision encoder: grid_thw[", i, "] = (", t, ", ", h, ", ", w, "): h and w must be multiples of ",
                      "spatial_merge_size ", merge));
    total += t * h * w;
  }
  if (total != patches)
    throw Error(cat("vision encoder: grid_thw covers ", total, " patches (sum of t*h*w) but pixel_values has ", patches,
                    " rows"));
  return grid;
}

VisionLayout VisionEncoderImpl::layout_of(const at::Tensor& grid) const {
  VisionLayout layout;
  layout.cu_seqlens.push_back(0);
  std::vector<at::Tensor> rows, cols;
  for (int64_t i = 0; i < grid.size(0); ++i) {
    const int64_t t = grid[i][0].item<int64_t>(), h = grid[i][1].item<int64_t>(), w = grid[i][2].item<int64_t>();
    for (int64_t f = 0; f < t; ++f) layout.cu_seqlens.push_back(layout.cu_seqlens.back() + h * w);
    at::Tensor order = block_order(h, w, config_.spatial_merge_size);  // [h*w]
    rows.push_back(at::floor_divide(order, w).repeat({t}));
    cols.push_back(at::remainder(order, w).repeat({t}));
  }
  layout.rows = at::cat(rows);  // [N]
  layout.cols = at::cat(cols);  // [N]
  return layout;
}

at::Tensor VisionEncoderImpl::position_embedding(const at::Tensor& grid) const {
  const at::Tensor& table = pos_embed->weight;  // [side*side, H]
  const auto device = table.device();
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < grid.size(0); ++i) {
    const int64_t t = grid[i][0].item<int64_t>(), h = grid[i][1].item<int64_t>(), w = grid[i][2].item<int64_t>();
    // Align-corners sample points on the table: linspace(0, side - 1, n) along each axis.
    at::Tensor y = at::linspace(0, static_cast<double>(side_ - 1), h, at::kFloat);  // [h]
    at::Tensor x = at::linspace(0, static_cast<double>(side_ - 1), w, at::kFloat);  // [w]
    at::Tensor y0 = y.to(at::kLong), x0 = x.to(at::kLong);
    at::Tensor y1 = (y0 + 1).clamp_max(side_ - 1), x1 = (x0 + 1).clamp_max(side_ - 1);
    at::Tensor dy = (y - y0).unsqueeze(1), dx = (x - x0).unsqueeze(0);  // [h, 1], [1, w]
    auto corner = [&](const at::Tensor& yi, const at::Tensor& xi) {     // [h*w] table rows
      return (yi.unsqueeze(1) * side_ + xi.unsqueeze(0)).flatten().to(device);
    };
    at::Tensor index = at::stack({corner(y0, x0), corner(y0, x1), corner(y1, x0), corner(y1, x1)});  // [4, h*w]
    at::Tensor weight = at::stack({((1 - dy) * (1 - dx)).flatten(), ((1 - dy) * dx).flatten(),
                                   (dy * (1 - dx)).flatten(), (dy * dx).flatten()})
                            .to(device);                                               // [4, h*w] fp32
    at::Tensor corners = table.index_select(0, index.flatten()).view({4, h * w, -1});  // [4, h*w, H]
    at::Tensor map = (corners * weight.unsqueeze(2)).sum(0);                           // [h*w, H] fp32, row-major
    at::Tensor order = block_order(h, w, config_.spatial_merge_size).to(device);
    parts.push_back(map.index_select(0, order).repeat({t, 1}));  // [t*h*w, H], merge-block order
  }
  return at::cat(parts);  // [N, H]
}

std::pair<at::Tensor, at::Tensor> VisionEncoderImpl::rotary(const VisionLayout& layout,
                                                            const at::Device& device) const {
  const int64_t dim = config_.hidden_size / config_.num_heads / 2;  // rotary dim per axis pair
  at::Tensor inv_freq =
      1.0 / at::pow(kRopeTheta, at::arange(0, dim, 2, at::TensorOptions(at::kFloat).device(device)) / dim);  // [dim/2]
  at::Tensor rows = layout.rows.to(device).unsqueeze(1) * inv_freq;  // [N, dim/2] fp32
  at::Tensor cols = layout.cols.to(device).unsqueeze(1) * inv_freq;  // [N, dim/2] fp32
  at::Tensor half = at::cat({rows, cols}, 1);                        // [N, dim]
  at::Tensor angles = at::cat({half, half}, 1);                      // [N, head_dim]
  return {angles.cos(), angles.sin()};
}

VisionOutput VisionEncoderImpl::forward(const at::Tensor& pixel_values, const at::Tensor& grid_thw,
                                        const ActivationMemory& activations, ContextParallelComm* cp) {
  if (pixel_values.dim() != 2 || pixel_values.size(1) != config_.patch_dim())
    throw Error(cat("vision encoder: pixel_values must be [N, ", config_.patch_dim(), "], got ", pixel_values.sizes()));
  const at::Device device = patch_embed->proj->weight.device();
  check_backend(backend_, device.is_cuda(), "vision encoder");
  at::Tensor grid = checked_grid(grid_thw, pixel_values.size(0));
  VisionLayout layout = layout_of(grid);

  at::Tensor x = patch_embed->forward(pixel_values.to(device));  // [N, H]
  x = x + position_embedding(grid).to(x.scalar_type());
  auto [cos, sin] = rotary(layout, device);  // [N, head_dim] fp32
  // Context parallel: each rank keeps whole 2x2 merge blocks of the patches; attention trades heads for them.
  if (cp && config_.num_heads % cp->size() != 0) cp = nullptr;  // run whole on every rank
  const int64_t merged_rows = x.size(0) / (config_.spatial_merge_size * config_.spatial_merge_size);
  std::optional<SequenceSplit> split;
  if (cp) {
    split.emplace(x.size(0), cp->size(), cp->rank(), config_.spatial_merge_size * config_.spatial_merge_size);
    x = split->local(x, 0, 0), cos = split->local(cos, 0, 0), sin = split->local(sin, 0, 0);
    layout.cu_seqlens = padded_segments(layout.cu_seqlens, *split);
  }
  // The merged rows of every rank (the LLM's part on each rank may hold any of them).
  auto whole = [&](const at::Tensor& merged) { return cp ? gather_rows(*cp, merged, merged_rows) : merged; };

  VisionOutput out;
  auto offload = activations.offload ? std::make_shared<ActivationOffload>(config_.depth) : nullptr;
  for (int64_t i = 0; i < config_.depth; ++i) {
    auto block = blocks->ptr<VisionBlockImpl>(i);
    LayerFunction fn = [block, cu_seqlens = layout.cu_seqlens, cp](const std::vector<at::Tensor>& in) {
      return std::vector<at::Tensor>{block->forward(in[0], in[1], in[2], cu_seqlens, cp)};
    };
    LayerFunction call = [&](const std::vector<at::Tensor>& in) {
      return activations.any() ? recompute(fn, in, block->parameters(), offload) : fn(in);
    };
    x = run_unit(*block, {x, cos, sin}, call)[0];
    if (const int64_t k = tap_of(i); k >= 0)
      out.deepstack.push_back(whole(merge(merger_list->ptr<VisionPatchMergerImpl>(k), x)));  // [N/4, out_hidden]
  }
  out.tokens = whole(merge(merger.ptr(), x));  // [N/4, out_hidden]
  return out;
}

int64_t VisionEncoderImpl::tap_of(int64_t block) const {
  const auto& taps = config_.deepstack_visual_indexes;
  for (size_t k = 0; k < taps.size(); ++k)  // one tap per block (the first merger listed for it), as the reference
    if (taps[k] == block) return static_cast<int64_t>(k);
  return -1;
}

at::Tensor VisionEncoderImpl::merge(const std::shared_ptr<VisionPatchMergerImpl>& unit, const at::Tensor& x) {
  return run_unit(*unit, {x}, [unit](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{unit->forward(in[0])};
  })[0];
}

std::vector<torch::nn::Module*> VisionEncoderImpl::units() {
  std::vector<torch::nn::Module*> out;
  for (int64_t i = 0; i < config_.depth; ++i) {
    out.push_back(blocks[i].get());
    if (const int64_t k = tap_of(i); k >= 0) out.push_back(merger_list[k].get());
  }
  out.push_back(merger.ptr().get());
  return out;
}

}  // namespace omnitune
