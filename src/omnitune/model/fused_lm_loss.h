// model/fused_lm_loss: lm_head + causal-LM cross-entropy without materialising [B, S, V] logits.
// Only rows whose shifted label is not -100 are projected; they go through in chunks, and each chunk's
// gradient (softmax - one-hot) is turned into grad_hidden and grad_weight inside the forward, so at
// most [chunk, V] logits exist at a time. Equal to causal_lm_loss(lm_head(hidden), labels).
#pragma once

#include <ATen/Tensor.h>

namespace omnitune {

// hidden [B, S, H], weight [V, H], labels [B, S] (kIgnoreIndex = ignored) -> scalar fp32 loss: the mean over the
// labelled positions, or with label_weights [B, S] the sum of label_weights[b, t] * CE(labels[b, t]).
at::Tensor fused_causal_lm_loss(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& labels,
                                int64_t chunk_rows, const at::Tensor& label_weights = {});
// The same for targets already shifted (causal_lm_loss.h: shifted_lm_loss).
at::Tensor fused_shifted_lm_loss(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                                 int64_t chunk_rows, const at::Tensor& target_weights = {});

}  // namespace omnitune
