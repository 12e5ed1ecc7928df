// model/load_module: strict copy of named tensors into a module's parameters. Every parameter must
// be present with its exact shape, and no tensor under the prefix may be left over.
#pragma once

#include <string>

#include <torch/nn/module.h>

#include "omnitune/io/torch_tensors.h"

namespace omnitune {

// Parameter "a.b" of `module` is read from tensor `prefix + "a.b"` (cast to the parameter's dtype).
// Throws an Error listing every missing, unexpected and mis-shaped tensor.
void load_module(torch::nn::Module& module, const NamedTensors& tensors, const std::string& prefix = "");

// The module's parameters as (prefix + name, tensor) pairs, in registration order.
NamedTensors module_parameters(const torch::nn::Module& module, const std::string& prefix = "");

}  // namespace omnitune
