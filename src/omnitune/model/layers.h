// model/layers: the small parameterised layers the towers and the decoder are built from, registered under the
// Hugging Face parameter names (`weight`, `bias`) so named_parameters() matches the checkpoint.
#pragma once

#include <vector>

#include <torch/nn/module.h>

namespace omnitune {

// y = x W^T (+ b). weight [out, in], bias [out]. With a LoRA adapter (model/lora.h) also
// + scaling * (dropout(x) A^T) B^T: lora_A [r, in], lora_B [out, r].
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias);
  at::Tensor forward(const at::Tensor& x);  // [..., in] -> [..., out]
  void add_lora(int64_t rank, double scaling, double dropout);
  at::Tensor weight, bias;
  at::Tensor lora_A, lora_B;
  double lora_scaling = 0, lora_dropout = 0;
};
TORCH_MODULE(Linear);

// Qwen RMSNorm: normalise in fp32, cast back to the input dtype, then scale by the weight.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t size, double eps);
  at::Tensor forward(const at::Tensor& x);  // [..., size] -> [..., size]
  at::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

// LayerNorm over the last dimension: weight [size] (ones), bias [size] (zeros).
class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t size, double eps);
  at::Tensor forward(const at::Tensor& x);  // [..., size] -> [..., size]
  at::Tensor weight, bias;
  double eps;
};
TORCH_MODULE(LayerNorm);

// A convolution's parameters only (weight [out, in, k...], bias [out]); the owner decides how to apply them.
class ConvWeightsImpl : public torch::nn::Module {
 public:
  explicit ConvWeightsImpl(std::vector<int64_t> weight_shape);
  at::Tensor weight, bias;
};
TORCH_MODULE(ConvWeights);

// Lookup table: weight [num, dim]; forward(ids [...]) -> [..., dim]. With padding_idx >= 0 that row gets no
// gradient (torch.nn.Embedding's padding_idx).
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t num, int64_t dim, int64_t padding_idx = -1);
  at::Tensor forward(const at::Tensor& ids);
  at::Tensor weight;
  int64_t padding_idx;
};
TORCH_MODULE(Embedding);

}  // namespace omnitune
