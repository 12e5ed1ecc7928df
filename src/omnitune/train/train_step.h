// train/train_step: one optimizer step — forward and backward over its micro-batches (gradients added to
// the fp32 accumulators), the global gradient norm and clipping, the non-finite check, AdamW on the
// masters and the compute copies refreshed. Nothing is read back from the device per micro-batch: the
// losses stay there and are read once, with the gradient norm, by the non-finite check.
#pragma once

#include <vector>

#include "omnitune/model/thinker.h"
#include "omnitune/train/adamw.h"
#include "omnitune/train/data_parallel.h"
#include "omnitune/train/distributed_optimizer.h"
#include "omnitune/train/flops.h"
#include "omnitune/train/loss_weights.h"
#include "omnitune/train/master_weights.h"
#include "omnitune/train/model_config.h"
#include "omnitune/train/phase_clock.h"

namespace omnitune {

struct BackwardResult {
  at::Tensor loss;          // 0-d fp32 on the device: the step's loss as the loss type defines it (aux excluded)
  at::Tensor micro_losses;  // [M]: each micro-batch's share of `loss`
  at::Tensor aux_loss;      // 0-d: this rank's share of the router aux loss averaged over the step's micro-batches
                            // (undefined when off)
  int64_t tokens = 0;       // real (unpadded) tokens, counted on the host batches
  int64_t labels = 0;       // tokens with a loss
  StepFlops flops;
};

// Forward + backward of each micro-batch (on the host; moved to `device`, floating inputs in `compute`),
// gradients accumulated into `masters`. The router aux loss of each micro-batch counts 1 / M, M the step's
// micro-batches over all ranks (`totals`; without it, these micro-batches are the whole step).
BackwardResult forward_backward(ThinkerImpl& model, const std::vector<ThinkerInputs>& micro, LossType type,
                                MasterWeights& masters, at::Device device, at::ScalarType compute,
                                PhaseClock* clock = nullptr, const StepTotals* totals = nullptr);

// torch.nn.utils.clip_grad_norm_: the L2 norm over all gradients; with max_norm > 0 and a larger norm every
// gradient is scaled by max_norm / (norm + 1e-6). Returns the norm before clipping (0-d fp32, on the device).
// The squares are summed in double over per-row float norms (torch's float norm of a whole large tensor is
// off by ~1e-5; rows are what a sharded rank holds whole, so a sharded sum agrees with this one).
at::Tensor clip_grad_norm(std::vector<at::Tensor>& grads, double max_norm);
at::Tensor sum_of_squares(const at::Tensor& grad);  // 0-d double: the squared L2 norm, by rows of dim 0
at::Tensor clip_to_norm(std::vector<at::Tensor>& grads, const at::Tensor& total, double max_norm);  // the scaling

struct StepSettings {
  LossType loss_type = LossType::kDefault;
  double lr = 0, clip_grad = 0;
  at::Device device = at::kCPU;
  at::ScalarType compute = at::kFloat;
  at::ScalarType reduce = at::kFloat;     // the gradients summed over the ranks in this dtype
  int64_t context_parallel = 1;           // ranks that share each micro-batch (each holds a part of its sequence)
  const OptimizerShard* shard = nullptr;  // --use-distributed-optimizer: AdamW holds the owned parameters only
};

// What the step did over all ranks: what one process would log for the same global batch.
struct StepResult {
  double loss = 0, aux_loss = 0, grad_norm = 0;
  bool has_aux = false;
  int64_t tokens = 0, labels = 0;
  StepFlops flops;
};

// The whole step: this rank's micro-batches, the gradients summed over `dp`, one AdamW step alike on every
// rank. Error naming `iteration` and the rows of the guilty micro-batch (on the rank that read them; the
// others name that rank) when the loss or the gradient norm is not finite — raised on every rank before
// AdamW, so the weights and the optimizer state are unchanged.
StepResult train_step(ThinkerImpl& model, const std::vector<ThinkerInputs>& micro, const StepSettings& settings,
                      MasterWeights& masters, AdamW& optimizer, PhaseClock& clock, int64_t iteration, DataParallel& dp);

}  // namespace omnitune
