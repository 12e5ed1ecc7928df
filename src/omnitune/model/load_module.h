// model/load_module: strict copy of named tensors into a module's parameters. Every parameter must
// be present with its exact shape, and no tensor under the prefix may be left over.
#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "omnitune/io/torch_tensors.h"

namespace omnitune {

// Every mismatch between a checkpoint and a model, collected so that one error lists them all.
struct LoadProblems {
  std::vector<std::string> missing, unexpected, shape, dtype;
  void check_shape(const std::string& name, const at::Tensor& t, c10::IntArrayRef want);
  bool check_dtype(const std::string& name, const at::Tensor& t);  // false (and recorded) unless floating point
  void throw_if_any(const std::string& source) const;              // Error "<source>: checkpoint does not match ..."
};

// Parameter "a.b" of `module` is read from tensor `prefix + "a.b"` (cast to the parameter's dtype).
// Throws an Error listing every missing, unexpected and mis-shaped tensor.
void load_module(torch::nn::Module& module, const NamedTensors& tensors, const std::string& prefix = "");

// The module's parameters as (prefix + name, tensor) pairs, in registration order.
NamedTensors module_parameters(const torch::nn::Module& module, const std::string& prefix = "");

}  // namespace omnitune
