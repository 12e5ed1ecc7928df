// model/recompute: per-layer activation recomputation (the seed's reentrant activation checkpointing).
// recompute() runs a layer's forward without keeping its activations, only its inputs; the backward runs
// the forward again, with grad enabled, on detached copies of the inputs and backpropagates through it:
// the layer's parameter gradients accumulate through that inner backward, the input gradients are
// returned to the outer graph. Consequences of the reentrant style:
//   - start the outer backward with backward() (torch::autograd::backward / Tensor::backward), not grad()
//   - the layer must compute the same function twice: no random numbers (the thinker has no dropout; a
//     layer that draws from its device's default generator is an error) and no state changed by forward
//   - tensors that need gradients must be inputs; the closure may capture only tensors that do not
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/model/activation_offload.h"

namespace omnitune {

// Per tower: recompute each layer in the backward; offload (implies recompute) also moves each layer's
// input hidden state to host memory until its backward (see activation_offload.h).
struct ActivationMemory {
  bool recompute = false;
  bool offload = false;
  bool any() const { return recompute || offload; }
};

// A layer as a function of its tensor inputs (the same positions recompute() was given; undefined ones
// stay undefined) to its outputs. Non-tensor arguments are captured by value.
using LayerFunction = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>& inputs)>;

// fn(inputs) with recomputation. inputs[0] is the layer's hidden state: with `offload` it goes to the
// offloader instead of being kept. `params`: the layer's parameters (their gradients come from the inner
// backward; listing them makes the outputs require grad even when no input does).
// Returns fn's outputs; each depends on all inputs and parameters as far as autograd can tell.
std::vector<at::Tensor> recompute(LayerFunction fn, const std::vector<at::Tensor>& inputs,
                                  const std::vector<at::Tensor>& params,
                                  const std::shared_ptr<ActivationOffload>& offload = nullptr);

}  // namespace omnitune
