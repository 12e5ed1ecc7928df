// train/data_parallel: the trainer's side of a job of many ranks — every rank holds a full replica of the
// model and of the AdamW state, reads its own part of each global batch, and the step's gradients are
// summed over the ranks (in the FSDP2 yaml's reduce_dtype) before the optimizer, so every rank takes the
// same step the single process would take on the whole global batch. The per-step exchanges live here:
// label totals (for the loss weights), gradients and which parameters got one, the logged numbers.
// With one process every call is a no-op.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "omnitune/parallel/process_group.h"

namespace omnitune {

class DataParallel {
 public:
  DataParallel() = default;  // one process
  DataParallel(const LaunchEnv& env, const JoinOptions& options);

  int64_t rank() const { return group_ ? group_->rank() : 0; }
  int64_t size() const { return group_ ? group_->world() : 1; }
  bool writes() const { return rank() == 0; }     // logs, metrics, TensorBoard and the checkpoint files
  ProcessGroup* group() { return group_.get(); }  // null with one process

  // Sums (in place, a contiguous CPU tensor) over the ranks: counters, losses, flags, weights.
  void sum(at::Tensor& values, const std::string& what);
  double max(double value, const std::string& what);
  // Sums the fp32 gradients over the ranks in `reduce` dtype (flattened into one transfer per call);
  // `has_grad`: 1 where some rank's micro-batches gave the parameter a gradient.
  void sum_grads(std::vector<at::Tensor>& grads, std::vector<uint8_t>& has_grad, at::ScalarType reduce);
  void barrier(const std::string& what);
  // The last collective of a successful run: from here on a rank that has exited is not a lost one.
  void leave();
  // Rank 0's `value` on every rank (`what` names it in a failure).
  std::string from_rank0(const std::string& value, const std::string& what);

  // `failure`: why this rank could not start ("" = it could). Error on every rank when any rank failed.
  void check_started(const std::string& failure);
  // Each part (name, text) must be equal on every rank: error naming the parts that differ and the ranks.
  void check_same(const std::vector<std::pair<std::string, std::string>>& parts);

 private:
  std::unique_ptr<ProcessGroup> group_;
};

}  // namespace omnitune
