#include "omnitune/model/layers.h"

#include <ATen/ATen.h>

#include "omnitune/model/param_init.h"

namespace omnitune {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias) {
  weight = register_parameter("weight", param_empty({out, in}));
  if (with_bias) bias = register_parameter("bias", param_zeros({out}));
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  at::Tensor y = at::linear(x, weight, bias);
  if (!lora_A.defined()) return y;
  at::Tensor in = lora_dropout > 0 ? at::dropout(x, lora_dropout, is_training()) : x;
  return y + at::linear(at::linear(in, lora_A), lora_B) * lora_scaling;
}

void LinearImpl::add_lora(int64_t rank, double scaling, double dropout) {
  lora_A = register_parameter("lora_A", param_empty({rank, weight.size(1)}));
  lora_B = register_parameter("lora_B", param_empty({weight.size(0), rank}));
  lora_scaling = scaling;
  lora_dropout = dropout;
}

RMSNormImpl::RMSNormImpl(int64_t size, double eps_) : eps(eps_) {
  weight = register_parameter("weight", param_ones({size}));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  at::Tensor x32 = x.to(at::kFloat);
  at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, true) + eps);
  return weight * normed.to(x.scalar_type());
}

LayerNormImpl::LayerNormImpl(int64_t size, double eps_) : eps(eps_) {
  weight = register_parameter("weight", param_ones({size}));
  bias = register_parameter("bias", param_zeros({size}));
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) {
  return at::layer_norm(x, {weight.size(0)}, weight, bias, eps);
}

ConvWeightsImpl::ConvWeightsImpl(std::vector<int64_t> weight_shape) {
  weight = register_parameter("weight", param_empty(weight_shape));
  bias = register_parameter("bias", param_zeros({weight_shape[0]}));
}

EmbeddingImpl::EmbeddingImpl(int64_t num, int64_t dim, int64_t padding_idx_) : padding_idx(padding_idx_) {
  weight = register_parameter("weight", param_empty({num, dim}));
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids, padding_idx); }

}  // namespace omnitune
