// train/master_weights: fp32 master copies of the model's parameters and fp32 gradient accumulators.
// With an fp32 compute dtype the masters are the model's own parameters; with bf16/fp16 the model
// holds compute copies, every backward's gradients are added into the fp32 accumulators (the seed's
// reduce_dtype fp32) and publish() writes the updated masters back into the compute copies.
// Frozen parameters keep a master too (checkpoints hold exact fp32 values) but no accumulator.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "omnitune/io/torch_tensors.h"

namespace omnitune {

class DataParallel;
class UnitRunner;

class MasterWeights {
 public:
  // `model` in fp32 on its device; afterwards its parameters are in `compute` dtype.
  MasterWeights(torch::nn::Module& model, at::ScalarType compute, const std::set<std::string>& frozen);
  virtual ~MasterWeights() = default;

  const NamedTensors& all() const { return all_; }              // every parameter, fp32
  const NamedTensors& trainable() const { return trainable_; }  // the optimizer's parameters, fp32
  std::vector<at::Tensor>& grads() { return grads_; }           // fp32, one per trainable parameter
  // 1 where the parameter got a gradient from some micro-batch since zero_grads() (a tower that ran), else
  // 0: AdamW leaves those alone, as torch does for a parameter whose .grad is None. Data-parallel ranks
  // combine theirs (maximum) so that every rank decides alike.
  std::vector<uint8_t>& has_grad() { return has_grad_; }
  int64_t trainable_numel() const;

  virtual void begin_forward() {}                        // a micro-batch's forward starts
  virtual UnitRunner* unit_runner() { return nullptr; }  // to install for its forward (parameter sharding)
  virtual void accumulate_grads();  // after its backward: model .grad -> accumulators (+=), model .grad cleared
  void zero_grads();                // accumulators and has_grad() back to 0
  virtual void publish();           // masters -> model parameters (no-op in fp32)
  // The step's gradients over all ranks (summed in `reduce` dtype) and has_grad() agreed.
  virtual void reduce_grads(DataParallel& dp, at::ScalarType reduce);
  // The global L2 norm of the gradients (0-d, on the device); with max_norm > 0 and a larger norm every
  // gradient is scaled by max_norm / (norm + 1e-6), as torch.nn.utils.clip_grad_norm_.
  virtual at::Tensor clip_grads(double max_norm);

  // Parameter sharding: all()[i] holds rows [first_row(i), first_row(i) + its dim 0) of the whole tensor, and
  // this rank writes checkpoint part `part` of `parts` when `writes` (one shard group writes; its replicas
  // hold the same rows). None: every tensor whole, on every rank.
  struct RowShard {
    int64_t part = 0, parts = 1;
    bool writes = true;
  };
  virtual std::optional<RowShard> row_shard() const { return std::nullopt; }
  virtual int64_t first_row(size_t /*all_index*/) const { return 0; }
  virtual bool writes(size_t /*all_index*/) const { return true; }  // this rank's part of a checkpoint has it

 protected:
  MasterWeights() = default;
  NamedTensors all_, trainable_;
  std::vector<at::Tensor> grads_;
  std::vector<uint8_t> has_grad_;

 private:
  at::ScalarType compute_ = at::kFloat;
  std::vector<at::Tensor> model_params_;  // trainable, in model order, compute dtype
};

}  // namespace omnitune
