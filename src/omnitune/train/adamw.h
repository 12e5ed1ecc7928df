// train/adamw: AdamW over fp32 master weights, step for step what torch.optim.AdamW computes
// (single-tensor path, decoupled weight decay, bias correction in double precision), so a run can be
// compared with a PyTorch one bit for bit. The state (exp_avg, exp_avg_sq per parameter, the step
// count) is exposed by name for checkpoints.
#pragma once

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

  // One update with learning rate `lr`; grads[i] (fp32, same shape) belongs to params[i].
  void step(double lr, const std::vector<at::Tensor>& grads);

  int64_t steps() const { return steps_; }
  const NamedTensors& params() const { return params_; }
  // "exp_avg.<name>", "exp_avg_sq.<name>" for every parameter (empty before the first step).
  NamedTensors state() const;
  // Restores what state() returned after `steps` steps. Error naming any missing or mis-shaped tensor.
  void load_state(const NamedTensors& state, int64_t steps, const std::string& where);

 private:
  NamedTensors params_;
  AdamWOptions options_;
  std::vector<at::Tensor> exp_avg_, exp_avg_sq_;
  int64_t steps_ = 0;
};

}  // namespace omnitune
