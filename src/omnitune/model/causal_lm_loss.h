// model/causal_lm_loss: the causal LM's cross-entropy and its one-token label shift — the one place the
// shift is coded: position t predicts labels[t + 1], so labels[:, 0] is never a target.
#pragma once

#include <ATen/Tensor.h>

namespace omnitune {

// [B, S] -> [B, S]: x[:, t + 1], `fill` at the last position.
at::Tensor shift_left(const at::Tensor& per_token, double fill);

// [B, S] bool: labels[b, t] is a target (not kIgnoreIndex, and t > 0).
at::Tensor predicted_labels(const at::Tensor& labels);

// HF ForCausalLMLoss: fp32 cross-entropy of logits[t] against labels[t+1], mean over the targets; with
// label_weights [B, S], the sum of label_weights[b, t + 1] * CE at t (the weight of the label predicted).
at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& label_weights = {});
// The same for targets already shifted (targets[b, t] = labels[b, t + 1], target_weights likewise): the part of
// a sequence that a context-parallel rank holds, cut after the shift.
at::Tensor shifted_lm_loss(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& target_weights = {});

}  // namespace omnitune
