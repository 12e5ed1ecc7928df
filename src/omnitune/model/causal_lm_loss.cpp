#include "omnitune/model/causal_lm_loss.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"
#include "omnitune/model/thinker_inputs.h"

namespace omnitune {

at::Tensor shift_left(const at::Tensor& per_token, double fill) {
  return at::constant_pad_nd(per_token, {0, 1}, fill).slice(1, 1);
}

at::Tensor predicted_labels(const at::Tensor& labels) {
  at::Tensor m = labels != kIgnoreIndex;
  m.select(1, 0).fill_(false);
  return m;
}

at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& label_weights) {
  if (labels.sizes() != logits.sizes().slice(0, 2))
    throw Error(cat("labels shape ", labels.sizes(), " does not match input_ids"));
  return shifted_lm_loss(logits, shift_left(labels, kIgnoreIndex),  // [B, S]: labels[t+1], ignored at the end
                         label_weights.defined() ? shift_left(label_weights.to(at::kFloat), 0.0) : at::Tensor());
}

at::Tensor shifted_lm_loss(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& target_weights) {
  at::Tensor flat = logits.to(at::kFloat).reshape({-1, logits.size(-1)});
  if (!target_weights.defined())
    return at::cross_entropy_loss(flat, targets.reshape(-1), {}, at::Reduction::Mean, kIgnoreIndex);
  at::Tensor per_token =
      at::cross_entropy_loss(flat, targets.reshape(-1), {}, at::Reduction::None, kIgnoreIndex);  // [B*S]
  return (per_token * target_weights.to(at::kFloat).reshape(-1)).sum();
}

}  // namespace omnitune
