// model/activation: the activation functions a config may name (hidden_act, activation_function), by
// transformers' ACT2FN names and with its arithmetic, so any config transformers accepts computes the same.
#pragma once

#include <string>

#include <ATen/Tensor.h>

namespace omnitune {

enum class Activation {
  kGelu,       // gelu, gelu_python: erf form
  kGelu10,     // gelu_10: erf form clipped to [-10, 10]
  kGeluTanh,   // gelu_pytorch_tanh, gelu_python_tanh: torch's tanh approximation
  kGeluNew,    // gelu_new, gelu_accurate: the tanh formula written out
  kGeluFast,   // gelu_fast
  kQuickGelu,  // quick_gelu: x * sigmoid(1.702 x)
  kSilu,       // silu, swish
  kRelu,
  kRelu2,
  kRelu6,
  kLeakyRelu,
  kHardswish,
  kSigmoid,
  kTanh,
  kMish,
  kLaplace,
  kSqrtSoftplus,
  kLinear,
};

// The activation named `name`; Error "<where>: unknown activation 'x' (did you mean 'y'?)" otherwise, and a
// clear refusal for those with learnable parameters (prelu, xielu).
Activation parse_activation(const std::string& name, const std::string& where);

at::Tensor activate(Activation a, const at::Tensor& x);  // elementwise, same shape and dtype

}  // namespace omnitune
