// train/distributed_optimizer: Megatron's --use-distributed-optimizer (ZeRO stage 1) on a data-parallel job.
// Each trainable parameter has one owner rank (parameters dealt out largest first, each to the rank that
// owns the fewest elements so far), which alone keeps its AdamW state and updates it; the updated fp32
// masters then reach every rank through one sum over the ranks (the owner's values plus zeros: exact). The
// step is bit for bit the replicated one; AdamW memory per rank is about 1/N.
#pragma once

#include <vector>

#include "omnitune/io/torch_tensors.h"
#include "omnitune/train/data_parallel.h"

namespace omnitune {

class OptimizerShard {
 public:
  OptimizerShard(const NamedTensors& trainable, int64_t rank, int64_t ranks);

  const std::vector<size_t>& owned() const { return owned_; }  // indices into `trainable`, ascending
  template <typename T>
  std::vector<T> pick(const std::vector<T>& all) const {  // the owned entries of a per-parameter vector
    std::vector<T> out;
    for (size_t i : owned_) out.push_back(all[i]);
    return out;
  }
  // The entries of a (merged) AdamW state that belong to owned parameters, and those of unknown parameters
  // (so that AdamW::load_state still names them); the other ranks' entries are dropped.
  NamedTensors owned_state(const NamedTensors& state) const;
  // After the owners' AdamW step: every rank gets every updated master (sums in place of fp32 buffers).
  void share_updated(const NamedTensors& trainable, DataParallel& dp) const;

 private:
  std::vector<size_t> owned_;
  std::vector<int64_t> owner_;  // per trainable parameter
  std::vector<std::string> names_;
  int64_t rank_ = 0;
};

}  // namespace omnitune
