#include "omnitune/model/thinker_inputs.h"

#include <ATen/ATen.h>

namespace omnitune {

std::vector<std::string> thinker_input_names() {
  std::vector<std::string> names;
  ThinkerInputs none;
  for_each_input(none, [&](std::string_view name, const at::Tensor&) { names.emplace_back(name); });
  return names;
}

ThinkerInputs to_device(const ThinkerInputs& in, at::Device device, at::ScalarType compute) {
  ThinkerInputs out = in;
  for_each_input(out, [&](std::string_view, at::Tensor& t) {
    if (t.defined()) t = t.is_floating_point() ? t.to(device, compute) : t.to(device);
  });
  if (out.label_weights.defined()) out.label_weights = out.label_weights.to(device);
  return out;
}

}  // namespace omnitune
