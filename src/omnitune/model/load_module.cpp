#include "omnitune/model/load_module.h"

#include <ATen/ATen.h>

#include <map>
#include <set>

#include "omnitune/core/error.h"

namespace omnitune {

void LoadProblems::check_shape(const std::string& name, const at::Tensor& t, c10::IntArrayRef want) {
  if (t.sizes() != want) shape.push_back(cat(name, " (checkpoint ", t.sizes(), ", model expects ", want, ")"));
}

bool LoadProblems::check_dtype(const std::string& name, const at::Tensor& t) {
  if (at::isFloatingType(t.scalar_type())) return true;
  dtype.push_back(cat(name, " (", t.scalar_type(), ", expected a floating-point tensor)"));
  return false;
}

void LoadProblems::throw_if_any(const std::string& source) const {
  if (missing.empty() && unexpected.empty() && shape.empty() && dtype.empty()) return;
  std::string message = source + ": checkpoint does not match the model config:";
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    message += cat("\n  ", names.size(), " ", what, ":");
    for (size_t i = 0; i < names.size() && i < 20; ++i) message += "\n    " + names[i];
    if (names.size() > 20) message += cat("\n    ... and ", names.size() - 20, " more");
  };
  list("missing tensors", missing);
  list("unexpected tensors", unexpected);
  list("tensors with the wrong shape", shape);
  list("tensors with the wrong dtype", dtype);
  throw Error(message);
}

void load_module(torch::nn::Module& module, const NamedTensors& tensors, const std::string& prefix) {
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, t] : tensors)
    if (name.rfind(prefix, 0) == 0) by_name[name.substr(prefix.size())] = &t;
  LoadProblems problems;
  std::set<std::string> used;
  at::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(true)) {
    auto it = by_name.find(item.key());
    if (it == by_name.end()) {
      problems.missing.push_back(prefix + item.key());
      continue;
    }
    used.insert(item.key());
    problems.check_shape(prefix + item.key(), *it->second, item.value().sizes());
    if (it->second->sizes() == item.value().sizes()) item.value().copy_(*it->second);
  }
  for (const auto& [name, t] : by_name)
    if (!used.count(name)) problems.unexpected.push_back(prefix + name);
  problems.throw_if_any("tensors");
}

NamedTensors module_parameters(const torch::nn::Module& module, const std::string& prefix) {
  NamedTensors out;
  for (const auto& item : module.named_parameters(true)) out.emplace_back(prefix + item.key(), item.value());
  return out;
}

}  // namespace omnitune
