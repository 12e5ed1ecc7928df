#include "omnitune/model/text_decoder.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"
#include "omnitune/model/unit_runner.h"

namespace omnitune {

std::pair<at::Tensor, at::Tensor> mrope_cos_sin(const TextConfig& config, const at::Tensor& position_ids,
                                                at::ScalarType dtype) {
  const int64_t half = config.head_dim / 2;
  at::Tensor exponents = at::arange(0, config.head_dim, 2, position_ids.options().dtype(at::kLong)).to(at::kFloat);
  at::Tensor inv_freq = 1.0 / at::pow(config.rope_theta, exponents / config.head_dim);  // [D/2]
  at::Tensor freqs = position_ids.to(at::kFloat).unsqueeze(-1) * inv_freq;              // [3, B, S, D/2]
  // Interleave: frequency j uses axis H when j % 3 == 1 and j < 3*sec_H, W when j % 3 == 2 and j < 3*sec_W, else T.
  std::vector<int64_t> axis(half, 0);
  for (int64_t j = 1; j < 3 * config.mrope_section[1] && j < half; j += 3) axis[j] = 1;
  for (int64_t j = 2; j < 3 * config.mrope_section[2] && j < half; j += 3) axis[j] = 2;
  at::Tensor select = at::tensor(axis, at::kLong).to(position_ids.device());  // [D/2]
  at::Tensor picked = freqs.permute({1, 2, 3, 0})
                          .gather(-1, select.view({1, 1, half, 1}).expand({freqs.size(1), freqs.size(2), half, 1}))
                          .squeeze(-1);            // [B, S, D/2]
  at::Tensor emb = at::cat({picked, picked}, -1);  // [B, S, D]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

namespace {
at::Tensor rotate_half(const at::Tensor& x) {
  int64_t half = x.size(-1) / 2;
  return at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}
}  // namespace

TextAttentionImpl::TextAttentionImpl(const TextConfig& c)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  q_proj = register_module("q_proj", Linear(c.hidden_size, heads_ * head_dim_, c.attention_bias));
  k_proj = register_module("k_proj", Linear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias));
  v_proj = register_module("v_proj", Linear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias));
  o_proj = register_module("o_proj", Linear(heads_ * head_dim_, c.hidden_size, c.attention_bias));
  q_norm = register_module("q_norm", RMSNorm(head_dim_, c.rms_norm_eps));
  k_norm = register_module("k_norm", RMSNorm(head_dim_, c.rms_norm_eps));
}

at::Tensor TextAttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                      const at::Tensor& attention_mask, const AttentionBackend& backend,
                                      ContextParallelComm* cp, LayerKv* kv) {
  const int64_t b = x.size(0), s = x.size(1);
  at::Tensor q = q_norm->forward(q_proj->forward(x).view({b, s, heads_, head_dim_})).transpose(1, 2);  // [B, Hq, S, D]
  at::Tensor k =
      k_norm->forward(k_proj->forward(x).view({b, s, kv_heads_, head_dim_})).transpose(1, 2);  // [B, Hkv, S, D]
  at::Tensor v = v_proj->forward(x).view({b, s, kv_heads_, head_dim_}).transpose(1, 2);        // [B, Hkv, S, D]
  at::Tensor c = cos.unsqueeze(1), sn = sin.unsqueeze(1);                                      // [B, 1, S, D]
  q = q * c + rotate_half(q) * sn;
  k = k * c + rotate_half(k) * sn;
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim_));
  at::Tensor out;
  if (kv) {
    auto [keys, values] = kv->append(k, v);  // [B, Hkv, T, D]
    out = causal_attention_with_past(q, keys, values, scale, backend);
  } else if (cp) {  // [B, Hq / CP, S, D] over the whole sequence, then this rank's tokens with every head
    q = ulysses_gather_sequence(*cp, q);
    k = ulysses_gather_sequence(*cp, ulysses_kv_heads(k, cp->size()));
    v = ulysses_gather_sequence(*cp, ulysses_kv_heads(v, cp->size()));
    out = ulysses_scatter_sequence(*cp, causal_attention(q, k, v, attention_mask, scale, backend));
  } else {
    out = causal_attention(q, k, v, attention_mask, scale, backend);
  }
  return o_proj->forward(out.transpose(1, 2).reshape({b, s, heads_ * head_dim_}));  // [B, S, H]
}

DecoderLayerImpl::DecoderLayerImpl(const TextConfig& c, int64_t layer) : index_(layer) {
  self_attn = register_module("self_attn", TextAttention(c));
  if (c.is_moe_layer(layer))
    moe = register_module("mlp", SparseMoe(c.hidden_size, c.moe_intermediate_size, c.num_experts, c.num_experts_per_tok,
                                           c.norm_topk_prob, c.hidden_act));
  else
    dense = register_module("mlp", DenseMlp(c.hidden_size, c.intermediate_size, c.hidden_act));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                     const at::Tensor& attention_mask, const TextRunOptions& options,
                                     at::Tensor* router_logits) {
  LayerKv* kv = options.kv_cache ? &options.kv_cache->layers.at(index_) : nullptr;
  at::Tensor h = x + self_attn->forward(input_layernorm->forward(x), cos, sin, attention_mask, options.attention,
                                        options.context_parallel, kv);
  at::Tensor normed = post_attention_layernorm->forward(h);
  if (!moe) return h + dense->forward(normed);
  auto shape = normed.sizes().vec();
  at::Tensor flat = normed.reshape({-1, shape.back()});  // [B*S, H]
  return h + moe->forward(flat, options.moe, router_logits).view(shape);
}

TextModelImpl::TextModelImpl(const TextConfig& c) : config(c) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, c.pad_token_id.value_or(-1)));
  auto list = std::make_shared<torch::nn::Module>();
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    layers.push_back(list->register_module(std::to_string(i), DecoderLayer(c, i)));
  register_module("layers", list);
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

at::Tensor TextModelImpl::embed(const at::Tensor& input_ids) {
  if (input_ids.numel() > 0) {
    int64_t lo = input_ids.min().item<int64_t>(), hi = input_ids.max().item<int64_t>();
    if (lo < 0 || hi >= config.vocab_size)
      throw Error(
          cat("input_ids: token id ", lo < 0 ? lo : hi, " is outside the vocabulary [0, ", config.vocab_size, ")"));
  }
  return run_unit(*embed_tokens, {input_ids}, [this](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{embed_tokens->forward(in[0])};
  })[0];
}

TextOutput TextModelImpl::forward(const at::Tensor& embeds, const at::Tensor& attention_mask,
                                  const at::Tensor& position_ids, const at::Tensor& visual_mask,
                                  const std::vector<at::Tensor>& deepstack, const TextRunOptions& options,
                                  bool want_router_logits) {
  at::Tensor positions = options.bf16_position_ids ? position_ids.to(at::kBFloat16) : position_ids;
  auto [cos, sin] = mrope_cos_sin(config, positions, embeds.scalar_type());
  // A batch without padding attends plainly causally: no mask, so no kernel builds or saves an [S, S] one.
  const at::Tensor mask =
      attention_mask.defined() && !attention_mask.all().item<bool>() ? attention_mask : at::Tensor();
  TextOutput out;
  at::Tensor h = embeds;
  auto offload =
      options.activations.offload ? std::make_shared<ActivationOffload>(static_cast<int64_t>(layers.size())) : nullptr;
  for (size_t j = 0; j < layers.size(); ++j) {
    at::Tensor logits;
    // The router logits are a second output (recomputed with the layer).
    LayerFunction fn = [layer = layers[j].ptr(), options, want_router_logits](const std::vector<at::Tensor>& in) {
      at::Tensor router;
      at::Tensor out = layer->forward(in[0], in[1], in[2], in[3], options, want_router_logits ? &router : nullptr);
      return router.defined() ? std::vector<at::Tensor>{out, router} : std::vector<at::Tensor>{out};
    };
    LayerFunction call = [&](const std::vector<at::Tensor>& in) {
      return options.activations.any() ? recompute(fn, in, layers[j]->parameters(), offload) : fn(in);
    };
    std::vector<at::Tensor> outs = run_unit(*layers[j], {h, cos, sin, mask}, call);
    h = outs[0];
    if (outs.size() > 1) logits = outs[1];
    if (want_router_logits && logits.defined()) out.router_logits.push_back(logits);
    if (j < deepstack.size()) {  // DeepStack: add the j-th visual features at the visual positions
      at::Tensor add = at::zeros_like(h).masked_scatter(visual_mask.unsqueeze(-1), deepstack[j].to(h.scalar_type()));
      h = h + add;
    }
  }
  out.hidden = norm->forward(h);
  return out;
}

}  // namespace omnitune
