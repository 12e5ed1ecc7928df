// train/master_weights: fp32 master copies of the model's parameters and fp32 gradient accumulators.
// With an fp32 compute dtype the masters are the model's own parameters; with bf16/fp16 the model
// holds compute copies, every backward's gradients are added into the fp32 accumulators (the seed's
// reduce_dtype fp32) and publish() writes the updated masters back into the compute copies.
// Frozen parameters keep a master too (checkpoints hold exact fp32 values) but no accumulator.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "omnitune/io/torch_tensors.h"

namespace omnitune {

class MasterWeights {
 public:
  // `model` in fp32 on its device; afterwards its parameters are in `compute` dtype.
  MasterWeights(torch::nn::Module& model, at::ScalarType compute, const std::set<std::string>& frozen);

  const NamedTensors& all() const { return all_; }              // every parameter, fp32
  const NamedTensors& trainable() const { return trainable_; }  // the optimizer's parameters, fp32
  std::vector<at::Tensor>& grads() { return grads_; }           // fp32, one per trainable parameter
  // 1 where the parameter got a gradient from some micro-batch since zero_grads() (a tower that ran), else
  // 0: AdamW leaves those alone, as torch does for a parameter whose .grad is None. Data-parallel ranks
  // combine theirs (maximum) so that every rank decides alike.
  std::vector<uint8_t>& has_grad() { return has_grad_; }
  int64_t trainable_numel() const;

  void accumulate_grads();  // model .grad -> accumulators (+=), model .grad cleared
  void zero_grads();        // accumulators and has_grad() back to 0
  void publish();           // masters -> model parameters (no-op in fp32)

 private:
  at::ScalarType compute_;
  std::vector<at::Tensor> model_params_;  // trainable, in model order, compute dtype
  NamedTensors all_, trainable_;
  std::vector<at::Tensor> grads_;
  std::vector<uint8_t> has_grad_;
};

}  // namespace omnitune
