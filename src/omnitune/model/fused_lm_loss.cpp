#include "omnitune/model/fused_lm_loss.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <limits>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/model/causal_lm_loss.h"
#include "omnitune/model/thinker_inputs.h"

namespace omnitune {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// rows [N, H] (the hidden states that have a target), weight [V, H], targets [N] int64, scale [N] fp32
// (each row's weight in the loss): returns sum_i scale_i * CE_i.
struct LinearCrossEntropy : public torch::autograd::Function<LinearCrossEntropy> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& rows, const at::Tensor& weight,
                            const at::Tensor& targets, const at::Tensor& scale, int64_t chunk_rows) {
    const int64_t n = rows.size(0);
    at::Tensor grad_rows = at::empty_like(rows);                                             // [N, H]
    at::Tensor grad_weight = at::zeros(weight.sizes(), weight.options().dtype(at::kFloat));  // [V, H] fp32 accumulator
    at::Tensor loss_sum = at::zeros({}, rows.options().dtype(at::kFloat));
    for (int64_t start = 0; start < n; start += chunk_rows) {
      const int64_t end = std::min(n, start + chunk_rows);
      at::Tensor h = rows.slice(0, start, end);                  // [c, H]
      at::Tensor t = targets.slice(0, start, end).unsqueeze(1);  // [c, 1]
      at::Tensor w = scale.slice(0, start, end).unsqueeze(1);    // [c, 1]
      // One [c, V] buffer: logits - max, then exp, then softmax, all in place.
      at::Tensor grad = at::matmul(h, weight.t()).to(at::kFloat);       // [c, V] logits
      grad.sub_(std::get<0>(grad.max(-1, true)));                       // z = logits - max
      at::Tensor z_target = grad.gather(1, t);                          // [c, 1]
      at::Tensor sum_exp = grad.exp_().sum(-1, true);                   // [c, 1]
      loss_sum += ((sum_exp.log() - z_target) * w).sum();               // CE = log sum exp z - z_target
      grad.div_(sum_exp);                                               // softmax
      grad.scatter_add_(1, t, at::full_like(t, -1.0, grad.options()));  // - one-hot
      grad.mul_(w);
      at::Tensor g = grad.to(weight.scalar_type());
      grad_rows.slice(0, start, end).copy_(at::matmul(g, weight));  // [c, H]
      grad_weight.addmm_(g.t().to(at::kFloat), h.to(at::kFloat));   // [V, H]
    }
    // Kept outside the autograd saved variables so that the backward can take them over: scaling them in
    // place and handing them on as the gradients keeps one [V, H] buffer alive, not two.
    ctx->saved_data["grad_rows"] = grad_rows;
    ctx->saved_data["grad_weight"] = grad_weight.to(weight.scalar_type());
    return loss_sum;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_output) {
    auto take = [&](const std::string& key) {
      auto it = ctx->saved_data.find(key);
      if (it == ctx->saved_data.end())
        throw Error("the fused lm_head + loss was backpropagated twice (retain_graph); compute the loss again instead");
      at::Tensor t = it->second.toTensor();
      ctx->saved_data.erase(it);
      return t;
    };
    at::Tensor scale = grad_output[0];
    at::Tensor grad_rows = take("grad_rows"), grad_weight = take("grad_weight");
    grad_rows.mul_(scale.to(grad_rows.scalar_type()));
    grad_weight.mul_(scale.to(grad_weight.scalar_type()));
    return {grad_rows, grad_weight, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor fused_causal_lm_loss(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                int64_t chunk_rows, const at::Tensor& label_weights) {
  return fused_shifted_lm_loss(hidden, weight, shift_left(labels, kIgnoreIndex), chunk_rows,
                               label_weights.defined() ? shift_left(label_weights.to(at::kFloat), 0.0) : at::Tensor());
}

at::Tensor fused_shifted_lm_loss(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                 int64_t chunk_rows, const at::Tensor& target_weights) {
  at::Tensor shifted = targets.reshape(-1);                          // [B*S] labels[t+1]
  at::Tensor keep = (shifted != kIgnoreIndex).nonzero().squeeze(1);  // [N]
  if (keep.numel() == 0 && !target_weights.defined())                // as the reference: the mean over no tokens is NaN
    return hidden.sum() * std::numeric_limits<float>::quiet_NaN();
  at::Tensor scale = target_weights.defined() ? target_weights.to(at::kFloat).reshape(-1).index_select(0, keep)
                                              : at::full({keep.numel()}, 1.0 / static_cast<double>(keep.numel()),
                                                         hidden.options().dtype(at::kFloat));
  at::Tensor rows = hidden.reshape({-1, hidden.size(-1)}).index_select(0, keep);  // [N, H]
  return LinearCrossEntropy::apply(rows, weight, shifted.index_select(0, keep), scale, chunk_rows);
}

}  // namespace omnitune
