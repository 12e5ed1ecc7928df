#include "omnitune/model/unit_runner.h"

namespace omnitune {

namespace {
thread_local UnitRunner* installed = nullptr;
}  // namespace

UnitRunner* current_unit_runner() { return installed; }

UnitRunnerScope::UnitRunnerScope(UnitRunner* runner) : previous_(installed) { installed = runner; }

UnitRunnerScope::~UnitRunnerScope() { installed = previous_; }

std::vector<at::Tensor> run_unit(torch::nn::Module& unit, const std::vector<at::Tensor>& inputs,
                                 const LayerFunction& fn) {
  return installed ? installed->run(unit, inputs, fn) : fn(inputs);
}

void skip_units(const std::vector<torch::nn::Module*>& units) {
  if (installed) installed->skip(units);
}

}  // namespace omnitune
