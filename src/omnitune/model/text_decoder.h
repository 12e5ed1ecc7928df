// model/text_decoder: the thinker's language model (`thinker.model`): token embeddings, decoder layers
// (q/k-RMSNorm GQA attention with interleaved M-RoPE, sparse MoE or dense MLP), DeepStack injection of
// visual features after the first layers, final RMSNorm. Parameter names are the HF names under
// `thinker.model.` except the merged experts (see moe.h).
#pragma once

#include <vector>

#include <torch/nn/module.h>

#include "omnitune/model/attention.h"
#include "omnitune/model/config.h"
#include "omnitune/model/context_parallel.h"
#include "omnitune/model/kv_cache.h"
#include "omnitune/model/layers.h"
#include "omnitune/model/moe.h"
#include "omnitune/model/recompute.h"

namespace omnitune {

struct TextRunOptions {
  AttentionBackend attention;
  MoeImpl moe = MoeImpl::kGrouped;
  bool bf16_position_ids = false;  // round position ids to bf16 before RoPE (the seed's LLaMA-Factory alignment)
  ActivationMemory activations;    // per-layer recompute / offload of the decoder layers
  // Ulysses: the hidden states hold this rank's part of the sequence; attention exchanges heads for it.
  ContextParallelComm* context_parallel = nullptr;
  // Generation: each layer appends its keys and values here and attends over all cached tokens (no padding).
  KvCache* kv_cache = nullptr;
};

// cos, sin [B, S, head_dim] (in `dtype`) of interleaved M-RoPE for position_ids [3, B, S].
std::pair<at::Tensor, at::Tensor> mrope_cos_sin(const TextConfig& config, const at::Tensor& position_ids,
                                                at::ScalarType dtype);

class TextAttentionImpl : public torch::nn::Module {
 public:
  explicit TextAttentionImpl(const TextConfig& config);
  // x [B, S, H]; cos/sin [B, S, D]; attention_mask [B, S] or undefined -> [B, S, H]. With `cp`: x, cos, sin
  // hold this rank's s = S / CP tokens, attention_mask the whole sequence. With `kv`: x holds the newest
  // tokens, whose keys and values are appended to it and which attend to every cached token.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const at::Tensor& attention_mask, const AttentionBackend& backend,
                     ContextParallelComm* cp = nullptr, LayerKv* kv = nullptr);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};

 private:
  int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(TextAttention);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const TextConfig& config, int64_t layer);
  // x [B, S, H] -> [B, S, H]; router_logits receives [B*S, E] for MoE layers when given.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const at::Tensor& attention_mask, const TextRunOptions& options, at::Tensor* router_logits);
  TextAttention self_attn{nullptr};
  SparseMoe moe{nullptr};   // registered as "mlp" on MoE layers
  DenseMlp dense{nullptr};  // registered as "mlp" on mlp_only layers
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};

 private:
  int64_t index_;  // its place in the stack (its KvCache entry)
};
TORCH_MODULE(DecoderLayer);

struct TextOutput {
  at::Tensor hidden;                      // [B, S, H] after the final norm
  std::vector<at::Tensor> router_logits;  // per MoE layer [B*S, E], when requested
};

class TextModelImpl : public torch::nn::Module {
 public:
  explicit TextModelImpl(const TextConfig& config);
  at::Tensor embed(const at::Tensor& input_ids);  // [B, S] -> [B, S, H]
  // embeds [B, S, H]; position_ids [3, B, S]; visual_mask [B, S] bool and deepstack[j] [#visual, H]
  // (added after layer j) may be undefined/empty.
  TextOutput forward(const at::Tensor& embeds, const at::Tensor& attention_mask, const at::Tensor& position_ids,
                     const at::Tensor& visual_mask, const std::vector<at::Tensor>& deepstack,
                     const TextRunOptions& options, bool want_router_logits);

  Embedding embed_tokens{nullptr};  // weight [V, H]
  std::vector<DecoderLayer> layers;
  RMSNorm norm{nullptr};
  TextConfig config;
};
TORCH_MODULE(TextModel);

}  // namespace omnitune
