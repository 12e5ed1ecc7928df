// model/moe: the sparse Mixture-of-Experts feed-forward of the text decoder (softmax router, top-k,
// renormalised weights, gated experts down(act(gate) * up), act = SiLU in Qwen3-Omni). Experts are stored merged:
//   experts.gate_up_proj [E, H, 2I]  (x @ gate_up_proj[e] = [gate | up])
//   experts.down_proj    [E, I, H]
// which is also the layout of at::_grouped_mm. Two execution paths give the same result:
//   grouped - token slots sorted by expert, one GEMM per expert slice (CUDA bf16/sm90: one _grouped_mm)
//   loop    - the reference's per-expert loop
// Experts that get no tokens still get a (zero) gradient slice: the merged tensors always have one.
#pragma once

#include <string>

#include <torch/nn/module.h>

#include "omnitune/model/activation.h"
#include "omnitune/model/layers.h"

namespace omnitune {

enum class MoeImpl { kGrouped, kLoop };
MoeImpl parse_moe_impl(const std::string& text, const std::string& where);

// With LoRA (model/lora.h) a merged tensor [E, in, out] gets <name>_lora_A [E, in, r] and _lora_B [E, r, out]:
// expert e computes x W_e + scaling * (x A_e) B_e.
class ExpertsImpl : public torch::nn::Module {
 public:
  ExpertsImpl(int64_t num_experts, int64_t hidden, int64_t intermediate);
  void add_lora(const std::string& tensor, int64_t rank, double scaling);  // "gate_up_proj" or "down_proj"
  at::Tensor gate_up_proj, down_proj;
  at::Tensor gate_up_lora_A, gate_up_lora_B, down_lora_A, down_lora_B;  // undefined without LoRA
  double lora_scaling = 0;
};
TORCH_MODULE(Experts);

class SparseMoeImpl : public torch::nn::Module {
 public:
  SparseMoeImpl(int64_t hidden, int64_t intermediate, int64_t num_experts, int64_t top_k, bool norm_topk_prob,
                Activation activation = Activation::kSilu);
  // x [T, H] -> [T, H]; router_logits (when given) receives the gate's logits [T, E].
  at::Tensor forward(const at::Tensor& x, MoeImpl impl, at::Tensor* router_logits = nullptr);

  Linear gate{nullptr};  // weight [E, H], no bias
  Experts experts{nullptr};

 private:
  at::Tensor grouped(const at::Tensor& x, const at::Tensor& weights, const at::Tensor& indices);
  at::Tensor loop(const at::Tensor& x, const at::Tensor& weights, const at::Tensor& indices);
  int64_t num_experts_, top_k_, intermediate_;
  bool norm_topk_prob_;
  Activation activation_;
};
TORCH_MODULE(SparseMoe);

// The dense SwiGLU MLP of `mlp_only_layers` (gate_proj, up_proj, down_proj; no bias).
class DenseMlpImpl : public torch::nn::Module {
 public:
  DenseMlpImpl(int64_t hidden, int64_t intermediate, Activation activation = Activation::kSilu);
  at::Tensor forward(const at::Tensor& x);  // [..., H] -> [..., H]
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};

 private:
  Activation activation_;
};
TORCH_MODULE(DenseMlp);

}  // namespace omnitune
