#include "omnitune/model/recompute.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What the backward needs besides the saved inputs.
struct LayerState : torch::CustomClassHolder {
  LayerFunction fn;
  size_t arity = 0;                 // fn's argument count
  std::vector<size_t> positions;    // fn argument of each defined input
  std::vector<bool> requires_grad;  // of each defined input
  std::vector<at::Tensor> params;   // the parameters that require grad
  std::shared_ptr<ActivationOffload> offload;
  int64_t slot = -1;

  std::vector<at::Tensor> arguments(const std::vector<at::Tensor>& defined) const {
    std::vector<at::Tensor> args(arity);
    for (size_t i = 0; i < defined.size(); ++i) args[positions[i]] = defined[i];
    return args;
  }
};

// The state of the default random generator of `device`: a layer that draws random numbers advances it.
at::Tensor generator_state(const at::Device& device) {
  at::Generator generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

// Inputs: the layer's defined tensor inputs, its trainable parameters, the state. Outputs: fn's.
struct RecomputedLayer : public torch::autograd::Function<RecomputedLayer> {
  static variable_list forward(AutogradContext* ctx, at::TensorList inputs, at::TensorList /*params*/,
                               const c10::intrusive_ptr<LayerState>& state) {
    ctx->set_materialize_grads(false);  // outputs without a gradient (unused router logits) stay undefined
    const at::Device device = inputs[0].device();
    const at::Tensor rng = generator_state(device);
    variable_list outputs = state->fn(state->arguments(inputs.vec()));  // grad is off here: nothing is kept
    if (!at::equal(rng, generator_state(device)))
      throw Error("recompute: the layer drew random numbers in its forward; recomputation would differ");
    for (const at::Tensor& out : outputs)
      if (!out.defined()) throw Error("recompute: the layer returned an undefined tensor");
    if (state->offload) {
      state->slot = state->offload->save(inputs[0]);
      ctx->save_for_backward(inputs.slice(1).vec());
    } else {
      ctx->save_for_backward(inputs.vec());
    }
    ctx->saved_data["state"] = at::IValue::make_capsule(state);
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto state = c10::static_intrusive_pointer_cast<LayerState>(ctx->saved_data["state"].toCapsule());
    variable_list inputs;
    if (state->offload) inputs.push_back(state->offload->fetch(state->slot));
    for (at::Tensor& saved : ctx->get_saved_variables()) inputs.push_back(std::move(saved));
    variable_list wrt = state->params;  // leaves whose gradients the inner backward accumulates
    for (size_t i = 0; i < inputs.size(); ++i) {
      inputs[i] = inputs[i].detach();
      if (state->requires_grad[i]) wrt.push_back(inputs[i].requires_grad_(true));
    }
    variable_list outputs;
    {
      at::AutoGradMode enable(true);
      outputs = state->fn(state->arguments(inputs));
    }
    if (outputs.size() != grads.size())
      throw Error(cat("recompute: the layer returned ", outputs.size(), " tensors on recomputation, ", grads.size(),
                      " in its forward"));
    variable_list roots, root_grads;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!grads[i].defined() || !outputs[i].requires_grad()) continue;
      roots.push_back(outputs[i]);
      root_grads.push_back(grads[i]);
    }
    // Restricted to `wrt`: the inner backward never walks into the outer graph.
    if (!roots.empty())
      torch::autograd::backward(roots, root_grads, /*retain_graph=*/false, /*create_graph=*/false, wrt);

    variable_list result;  // one per forward argument: inputs, parameters (accumulated already), the state
    for (size_t i = 0; i < inputs.size(); ++i)
      result.push_back(state->requires_grad[i] ? inputs[i].grad() : at::Tensor());
    result.resize(result.size() + state->params.size() + 1);
    return result;
  }
};

}  // namespace

std::vector<at::Tensor> recompute(LayerFunction fn, const std::vector<at::Tensor>& inputs,
                                  const std::vector<at::Tensor>& params,
                                  const std::shared_ptr<ActivationOffload>& offload) {
  if (inputs.empty() || !inputs[0].defined())
    throw Error("recompute: the layer's first input (its hidden state) is missing");
  auto state = c10::make_intrusive<LayerState>();
  state->arity = inputs.size();
  std::vector<at::Tensor> defined;
  bool any_grad = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) continue;
    defined.push_back(inputs[i]);
    state->positions.push_back(i);
    state->requires_grad.push_back(inputs[i].requires_grad());
    any_grad |= inputs[i].requires_grad();
  }
  for (const at::Tensor& p : params)
    if (p.requires_grad()) state->params.push_back(p);
  any_grad |= !state->params.empty();
  // Nothing to differentiate (inference, or a frozen layer on inputs without gradients): a plain call.
  if (!at::GradMode::is_enabled() || !any_grad) return fn(inputs);
  state->fn = std::move(fn);
  state->offload = offload;
  return RecomputedLayer::apply(at::TensorList(defined), at::TensorList(state->params), state);
}

}  // namespace omnitune
