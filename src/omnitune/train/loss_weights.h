// train/loss_weights: the seed's loss types as per-label weights. For the micro-batches of one
// optimizer step, w[m] [B, S] is chosen so that sum_m sum(w[m] * CE[m]) is the step's loss:
//   default          each micro-batch's mean over its labelled tokens, averaged over the GA micro-batches;
//   per_sample_loss  each sample's mean, averaged over the samples (with a label) of the micro-batch, then GA;
//   per_token_loss   the sum over every labelled token of the step / their number (so the loss and the
//                    gradients do not depend on how the global batch is split into micro-batches).
// A label counts when it is a target (model/causal_lm_loss.h: predicted_labels).
#pragma once

#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/train/model_config.h"

namespace omnitune {

// What the weights of one rank's micro-batches depend on beyond them: the step's micro-batches and labels
// over every data-parallel rank (so the ranks' weighted sums add up to the single-process loss).
struct StepTotals {
  int64_t micro_batches = 0;
  int64_t labels = 0;
};

// labels[m] [B, S] int64 -> weights [B, S] fp32 (zero where nothing is predicted). Without `totals`: the
// step is these micro-batches alone (one process).
std::vector<at::Tensor> label_weights(const std::vector<at::Tensor>& labels, LossType type,
                                      const StepTotals* totals = nullptr);

int64_t count_labels(const at::Tensor& labels);  // labelled positions that are predicted

}  // namespace omnitune
