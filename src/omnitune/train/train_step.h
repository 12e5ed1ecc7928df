// train/train_step: one optimizer step's forward and backward passes over its micro-batches, and the
// gradient norm / clipping, kept apart from the loop so tests can drive them directly.
#pragma once

#include <vector>

#include "omnitune/data/collate.h"
#include "omnitune/model/thinker.h"
#include "omnitune/train/flops.h"
#include "omnitune/train/master_weights.h"
#include "omnitune/train/model_config.h"

namespace omnitune {

struct StepResult {
  double loss = 0;      // the step's loss as the loss type defines it (aux loss excluded)
  double aux_loss = 0;  // router aux loss averaged over the micro-batches (0 when off)
  int64_t tokens = 0;   // real (unpadded) tokens
  int64_t labels = 0;   // tokens with a loss
  StepFlops flops;
  double forward_s = 0, backward_s = 0;
  int64_t first_nonfinite = -1;  // the first micro-batch whose loss is NaN or infinite (-1: none)
};

// The micro-batch on `device`, floating tensors cast to `compute` (as the seed casts every floating
// batch tensor to param_dtype).
ThinkerInputs to_inputs(const Batch& batch, at::Device device, at::ScalarType compute);

// Runs forward + backward on each micro-batch and accumulates the gradients into `masters`.
// aux_coef > 0 adds aux_coef * aux_loss / micro-batches to what is backpropagated.
StepResult forward_backward(ThinkerImpl& model, const std::vector<Batch>& micro, LossType type, double aux_coef,
                            MasterWeights& masters, at::Device device, at::ScalarType compute);

// torch.nn.utils.clip_grad_norm_: the L2 norm over all gradients; with max_norm > 0 and a larger norm
// every gradient is scaled by max_norm / (norm + 1e-6). Returns the norm before clipping.
double clip_grad_norm(std::vector<at::Tensor>& grads, double max_norm);

}  // namespace omnitune
