#include "omnitune/model/moe.h"

#include <ATen/ATen.h>

#include "omnitune/core/enum_names.h"
#include "omnitune/core/error.h"
#include "omnitune/model/param_init.h"

namespace omnitune {

MoeImpl parse_moe_impl(const std::string& text, const std::string& where) {
  static const EnumNames<MoeImpl> names = {{MoeImpl::kGrouped, "grouped"}, {MoeImpl::kLoop, "loop"}};
  return parse_enum(names, text, where, "MoE implementation");
}

ExpertsImpl::ExpertsImpl(int64_t num_experts, int64_t hidden, int64_t intermediate) {
  gate_up_proj = register_parameter("gate_up_proj", param_empty({num_experts, hidden, 2 * intermediate}));
  down_proj = register_parameter("down_proj", param_empty({num_experts, intermediate, hidden}));
}

void ExpertsImpl::add_lora(const std::string& tensor, int64_t rank, double scaling) {
  at::Tensor& base = tensor == "gate_up_proj" ? gate_up_proj : down_proj;
  const int64_t experts = base.size(0), in = base.size(1), out = base.size(2);
  at::Tensor a = register_parameter(tensor + "_lora_A", param_empty({experts, in, rank}));
  at::Tensor b = register_parameter(tensor + "_lora_B", param_empty({experts, rank, out}));
  (tensor == "gate_up_proj" ? gate_up_lora_A : down_lora_A) = a;
  (tensor == "gate_up_proj" ? gate_up_lora_B : down_lora_B) = b;
  lora_scaling = scaling;
}

SparseMoeImpl::SparseMoeImpl(int64_t hidden, int64_t intermediate, int64_t num_experts, int64_t top_k,
                             bool norm_topk_prob, Activation activation)
    : num_experts_(num_experts),
      top_k_(top_k),
      intermediate_(intermediate),
      norm_topk_prob_(norm_topk_prob),
      activation_(activation) {
  gate = register_module("gate", Linear(hidden, num_experts, false));
  experts = register_module("experts", Experts(num_experts, hidden, intermediate));
}

at::Tensor SparseMoeImpl::forward(const at::Tensor& x, MoeImpl impl, at::Tensor* router_logits) {
  at::Tensor logits = gate->forward(x);  // [T, E]
  if (router_logits) *router_logits = logits;
  at::Tensor probs = at::softmax(logits, -1, at::kFloat);  // [T, E] fp32
  auto [weights, indices] = at::topk(probs, top_k_, -1);   // [T, k]
  if (norm_topk_prob_) weights = weights / weights.sum(-1, true);
  weights = weights.to(logits.scalar_type());
  return impl == MoeImpl::kGrouped ? grouped(x, weights, indices) : loop(x, weights, indices);
}

namespace {
// One merged tensor [E, in, out] split into its experts' [in, out] views, with their LoRA factors (A [in, r],
// B [r, out]) when it has an adapter. Views from unbind(0): their backward stacks all experts' gradients once,
// instead of one full-size zero tensor per expert slice.
struct ExpertWeights {
  ExpertWeights(const at::Tensor& w, const at::Tensor& a, const at::Tensor& b, double s)
      : weight(w.unbind(0)), scaling(s) {
    if (a.defined()) lora_A = a.unbind(0), lora_B = b.unbind(0);
  }
  at::Tensor apply(const at::Tensor& x, int64_t e) const {  // [n, in] -> [n, out]
    at::Tensor y = at::matmul(x, weight[e]);
    return lora_A.empty() ? y : y + at::matmul(at::matmul(x, lora_A[e]), lora_B[e]) * scaling;
  }
  std::vector<at::Tensor> weight, lora_A, lora_B;
  double scaling;
};

// The gated FFN of expert e on its tokens: [n, H] -> [n, H].
at::Tensor expert_ffn(const at::Tensor& x, const ExpertWeights& gate_up, const ExpertWeights& down, int64_t e,
                      int64_t inter, Activation act) {
  auto halves = gate_up.apply(x, e).view({x.size(0), 2, inter}).unbind(1);  // gate, up: [n, I] each
  return down.apply(activate(act, halves[0]) * halves[1], e);
}

// x [n, in] through every expert's slice of offsets `offs` at once (_grouped_mm), with the LoRA term.
at::Tensor grouped_project(const at::Tensor& x, const at::Tensor& w, const at::Tensor& a, const at::Tensor& b,
                           double scaling, const at::Tensor& offs) {
  at::Tensor y = at::_grouped_mm(x, w, offs);
  return a.defined() ? y + at::_grouped_mm(at::_grouped_mm(x, a, offs), b, offs) * scaling : y;
}
}  // namespace

at::Tensor SparseMoeImpl::grouped(const at::Tensor& x, const at::Tensor& weights, const at::Tensor& indices) {
  // Sort the T*k (token, slot) pairs by expert; stable, so each expert's tokens stay in order.
  at::Tensor flat = indices.reshape(-1);                                // [T*k]
  at::Tensor order = at::argsort(flat, /*stable=*/true);                // [T*k]
  at::Tensor token = at::floor_divide(order, top_k_);                   // [T*k] token of each sorted slot
  at::Tensor slot_weight = weights.reshape(-1).index_select(0, order);  // [T*k]
  at::Tensor xs = x.index_select(0, token);                             // [T*k, H]
  at::Tensor counts = at::bincount(flat, {}, num_experts_).cpu();       // [E]
  const int64_t* count = counts.data_ptr<int64_t>();

  at::Tensor ys;  // [T*k, H]
  // One fused kernel on the GPU (bf16, 16-byte aligned rows); one GEMM per expert slice elsewhere.
  const Experts& ex = experts;
  bool fused = xs.is_cuda() && xs.scalar_type() == at::kBFloat16 && x.size(1) % 8 == 0 && intermediate_ % 8 == 0;
  for (const at::Tensor& a : {ex->gate_up_lora_A, ex->down_lora_A})
    if (a.defined()) fused = fused && a.size(2) % 8 == 0;
  if (fused) {
    at::Tensor offs = at::cumsum(counts, 0).to(at::kInt).to(xs.device());
    at::Tensor h = grouped_project(xs, ex->gate_up_proj, ex->gate_up_lora_A, ex->gate_up_lora_B, ex->lora_scaling,
                                   offs);  // [T*k, 2I]
    at::Tensor act = activate(activation_, h.slice(-1, 0, intermediate_)) * h.slice(-1, intermediate_);
    ys = grouped_project(act, ex->down_proj, ex->down_lora_A, ex->down_lora_B, ex->lora_scaling, offs);
  } else {
    const ExpertWeights gate_up(ex->gate_up_proj, ex->gate_up_lora_A, ex->gate_up_lora_B, ex->lora_scaling);
    const ExpertWeights down(ex->down_proj, ex->down_lora_A, ex->down_lora_B, ex->lora_scaling);
    std::vector<at::Tensor> parts = xs.split_with_sizes(c10::IntArrayRef(count, num_experts_));  // [n_e, H] each
    for (int64_t e = 0; e < num_experts_; ++e)
      if (count[e] > 0) parts[e] = expert_ffn(parts[e], gate_up, down, e, intermediate_, activation_);
    ys = at::cat(parts, 0);
  }
  ys = ys * slot_weight.unsqueeze(-1);
  // Each token sums its k expert outputs in ascending expert order, as the reference does.
  return at::zeros_like(x).index_add(0, token, ys.to(x.scalar_type()));
}

at::Tensor SparseMoeImpl::loop(const at::Tensor& x, const at::Tensor& weights, const at::Tensor& indices) {
  at::Tensor out = at::zeros_like(x);
  at::Tensor hit = at::bincount(indices.reshape(-1), {}, num_experts_).cpu();
  const Experts& ex = experts;
  const ExpertWeights gate_up(ex->gate_up_proj, ex->gate_up_lora_A, ex->gate_up_lora_B, ex->lora_scaling);
  const ExpertWeights down(ex->down_proj, ex->down_lora_A, ex->down_lora_B, ex->lora_scaling);
  for (int64_t e = 0; e < num_experts_; ++e) {
    if (hit[e].item<int64_t>() == 0) continue;
    at::Tensor where = (indices == e).nonzero();  // [n, 2] (token, slot), token-major
    at::Tensor token = where.select(1, 0), slot = where.select(1, 1);
    at::Tensor y = expert_ffn(x.index_select(0, token), gate_up, down, e, intermediate_, activation_);
    y = y * weights.index({token, slot}).unsqueeze(-1);
    out = out.index_add(0, token, y.to(out.scalar_type()));
  }
  return out;
}

DenseMlpImpl::DenseMlpImpl(int64_t hidden, int64_t intermediate, Activation activation) : activation_(activation) {
  gate_proj = register_module("gate_proj", Linear(hidden, intermediate, false));
  up_proj = register_module("up_proj", Linear(hidden, intermediate, false));
  down_proj = register_module("down_proj", Linear(intermediate, hidden, false));
}

at::Tensor DenseMlpImpl::forward(const at::Tensor& x) {
  return down_proj->forward(activate(activation_, gate_proj->forward(x)) * up_proj->forward(x));
}

}  // namespace omnitune
