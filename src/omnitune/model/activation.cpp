#include "omnitune/model/activation.h"

#include <ATen/ATen.h>

#include <cmath>

#include "omnitune/core/enum_names.h"
#include "omnitune/core/error.h"

namespace omnitune {

namespace {

// transformers' ACT2FN names (several names share one function).
const EnumNames<Activation> kActivationNames = {
    {Activation::kGelu, "gelu"},
    {Activation::kGelu, "gelu_python"},
    {Activation::kGelu10, "gelu_10"},
    {Activation::kGeluTanh, "gelu_pytorch_tanh"},
    {Activation::kGeluTanh, "gelu_python_tanh"},
    {Activation::kGeluNew, "gelu_new"},
    {Activation::kGeluNew, "gelu_accurate"},
    {Activation::kGeluFast, "gelu_fast"},
    {Activation::kQuickGelu, "quick_gelu"},
    {Activation::kSilu, "silu"},
    {Activation::kSilu, "swish"},
    {Activation::kRelu, "relu"},
    {Activation::kRelu2, "relu2"},
    {Activation::kRelu6, "relu6"},
    {Activation::kLeakyRelu, "leaky_relu"},
    {Activation::kHardswish, "hardswish"},
    {Activation::kSigmoid, "sigmoid"},
    {Activation::kTanh, "tanh"},
    {Activation::kMish, "mish"},
    {Activation::kLaplace, "laplace"},
    {Activation::kSqrtSoftplus, "sqrtsoftplus"},
    {Activation::kLinear, "linear"},
};

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as transformers writes it out.
at::Tensor gelu_tanh_formula(const at::Tensor& x) {
  return 0.5 * x * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * at::pow(x, 3.0))));
}

}  // namespace

Activation parse_activation(const std::string& name, const std::string& where) {
  if (name == "prelu" || name == "xielu")
    throw Error(cat(where, ": activation '", name,
                    "' has learnable parameters, which the Qwen3-Omni checkpoint "
                    "layout has no place for; not supported"));
  return parse_enum(kActivationNames, name, where, "activation");
}

at::Tensor activate(Activation a, const at::Tensor& x) {
  switch (a) {
    case Activation::kGelu: return at::gelu(x);
    case Activation::kGelu10: return at::clamp(at::gelu(x), -10, 10);
    case Activation::kGeluTanh: return at::gelu(x, "tanh");
    case Activation::kGeluNew: return gelu_tanh_formula(x);
    case Activation::kGeluFast: return 0.5 * x * (1.0 + at::tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)));
    case Activation::kQuickGelu: return x * at::sigmoid(1.702 * x);
    case Activation::kSilu: return at::silu(x);
    case Activation::kRelu: return at::relu(x);
    case Activation::kRelu2: return at::square(at::relu(x));
    case Activation::kRelu6: return at::hardtanh(x, 0, 6);
    case Activation::kLeakyRelu: return at::leaky_relu(x, 0.01);
    case Activation::kHardswish: return at::hardswish(x);
    case Activation::kSigmoid: return at::sigmoid(x);
    case Activation::kTanh: return at::tanh(x);
    case Activation::kMish: return at::mish(x);
    case Activation::kLaplace: return 0.5 * (1.0 + at::erf((x - 0.707107) / (0.282095 * std::sqrt(2.0))));
    case Activation::kSqrtSoftplus: return at::sqrt(at::softplus(x));
    case Activation::kLinear: return x;
  }
  return x;
}

}  // namespace omnitune
