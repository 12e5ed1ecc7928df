#include "omnitune/model/load_module.h"

#include <ATen/ATen.h>

#include <map>
#include <set>

#include "omnitune/core/error.h"

namespace omnitune {

void load_module(torch::nn::Module& module, const NamedTensors& tensors, const std::string& prefix) {
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, t] : tensors)
    if (name.rfind(prefix, 0) == 0) by_name[name.substr(prefix.size())] = &t;
  std::vector<std::string> missing, mismatched;
  std::set<std::string> used;
  at::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(true)) {
    auto it = by_name.find(item.key());
    if (it == by_name.end()) {
      missing.push_back(prefix + item.key());
      continue;
    }
    used.insert(item.key());
    if (it->second->sizes() != item.value().sizes()) {
      mismatched.push_back(cat(prefix, item.key(), " (checkpoint ", it->second->sizes(), ", model ", item.value().sizes(), ")"));
      continue;
    }
    item.value().copy_(*it->second);
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : by_name)
    if (!used.count(name)) unexpected.push_back(prefix + name);
  if (missing.empty() && unexpected.empty() && mismatched.empty()) return;
  std::string message = "checkpoint does not match the model:";
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    message += cat("\n  ", names.size(), " ", what, ":");
    for (size_t i = 0; i < names.size() && i < 20; ++i) message += "\n    " + names[i];
    if (names.size() > 20) message += cat("\n    ... and ", names.size() - 20, " more");
  };
  list("missing", missing);
  list("unexpected", unexpected);
  list("with the wrong shape", mismatched);
  throw Error(message);
}

NamedTensors module_parameters(const torch::nn::Module& module, const std::string& prefix) {
  NamedTensors out;
  for (const auto& item : module.named_parameters(true)) out.emplace_back(prefix + item.key(), item.value());
  return out;
}

}  // namespace omnitune
