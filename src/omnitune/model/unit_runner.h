// model/unit_runner: where the trainer acts around the model's wrapping units (the seed's FSDP2 units: each
// audio layer, vision block, vision merger, DeepStack merger, LLM layer, the embedding and lm_head). The towers
// call their units through run_unit(); with no runner installed that is a plain call. A runner installed for
// the current thread (the parameter sharding) makes the unit's parameters present for its forward and its
// backward, and sees the calls a rank does not make (a tower with no input on this rank) through skip_units(),
// so that every rank passes through the same units in the same order whatever its data.
#pragma once

#include <vector>

#include <torch/nn/module.h>

#include "omnitune/model/recompute.h"

namespace omnitune {

class UnitRunner {
 public:
  virtual ~UnitRunner() = default;
  // fn(inputs) for wrapping unit `unit`; the inputs fn receives may be stand-ins for `inputs` (same values).
  virtual std::vector<at::Tensor> run(torch::nn::Module& unit, const std::vector<at::Tensor>& inputs,
                                      const LayerFunction& fn) = 0;
  // `units`, in the order a call would run them, are not run on this rank for a call that another may make.
  virtual void skip(const std::vector<torch::nn::Module*>& units) = 0;
  // Element-wise OR over the ranks: which optional tower calls any rank makes in this forward.
  virtual std::vector<bool> any_rank(const std::vector<bool>& mine) = 0;
};

// The runner of the calling thread (null: none).
UnitRunner* current_unit_runner();

// Installs `runner` for the calling thread while it lives.
class UnitRunnerScope {
 public:
  explicit UnitRunnerScope(UnitRunner* runner);
  ~UnitRunnerScope();
  UnitRunnerScope(const UnitRunnerScope&) = delete;
  UnitRunnerScope& operator=(const UnitRunnerScope&) = delete;

 private:
  UnitRunner* previous_;
};

// fn(inputs) through the current runner, if any.
std::vector<at::Tensor> run_unit(torch::nn::Module& unit, const std::vector<at::Tensor>& inputs,
                                 const LayerFunction& fn);
// Tells the current runner (if any) that `units` are skipped on this rank.
void skip_units(const std::vector<torch::nn::Module*>& units);

}  // namespace omnitune
