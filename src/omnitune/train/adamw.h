// train/adamw: AdamW over fp32 master weights, step for step what torch.optim.AdamW computes
// (single-tensor path, decoupled weight decay, bias correction in double precision), so a run can be
// compared with a PyTorch one bit for bit. As in torch, a parameter that received no gradient in a step
// is left alone (no moment update, no weight decay) and each parameter counts its own steps. The state
// (exp_avg, exp_avg_sq and the step count per parameter) is exposed by name for checkpoints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/io/torch_tensors.h"

namespace omnitune {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
};

class AdamW {
 public:
  // `params`: the fp32 master tensors (updated in place), each with a unique name.
  AdamW(NamedTensors params, AdamWOptions options);

  // One update with learning rate `lr`; grads[i] (fp32, same shape) belongs to params[i]. has_grad[i] == 0
  // (the parameter got no gradient in this step, decided for all ranks alike) skips params[i] entirely;
  // an empty has_grad means every parameter has one.
  void step(double lr, const std::vector<at::Tensor>& grads, const std::vector<uint8_t>& has_grad = {});

  int64_t steps() const { return steps_; }                                  // step() calls
  const std::vector<int64_t>& param_steps() const { return param_steps_; }  // updates of each parameter
  const NamedTensors& params() const { return params_; }
  // "exp_avg.<name>", "exp_avg_sq.<name>" and the 0-d int64 "step.<name>" of every parameter (empty
  // before the first step).
  NamedTensors state() const;
  // Restores what state() returned after `steps` step() calls; a state without "step.<name>" entries
  // (older checkpoints) gives every parameter `steps`. Error naming any missing or mis-shaped tensor.
  void load_state(const NamedTensors& state, int64_t steps, const std::string& where);
  // The parameter a state() entry belongs to ("exp_avg.x" -> "x"); "" for a name that is no state entry.
  static std::string param_of(const std::string& state_name);

 private:
  NamedTensors params_;
  AdamWOptions options_;
  std::vector<at::Tensor> exp_avg_, exp_avg_sq_;
  std::vector<int64_t> param_steps_;
  int64_t steps_ = 0;
};

}  // namespace omnitune
