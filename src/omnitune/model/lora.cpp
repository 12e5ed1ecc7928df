#include "omnitune/model/lora.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <map>
#include <set>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"
#include "omnitune/model/moe.h"

namespace omnitune {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::map<std::string, LinearImpl*> linear_modules(ThinkerImpl& thinker) {
  std::map<std::string, LinearImpl*> out;
  for (const auto& item : thinker.named_modules("", /*include_self=*/false))
    if (auto* linear = dynamic_cast<LinearImpl*>(item.value().get())) out[item.key()] = linear;
  return out;
}

std::map<std::string, ExpertsImpl*> expert_modules(ThinkerImpl& thinker) {
  std::map<std::string, ExpertsImpl*> out;
  for (const auto& item : thinker.named_modules("", /*include_self=*/false))
    if (auto* experts = dynamic_cast<ExpertsImpl*>(item.value().get())) out[item.key()] = experts;
  return out;
}

const char* const kExpertTensors[] = {"gate_up_proj", "down_proj"};

// FNV-1a: a name's stable 64-bit hash (the init must not depend on the order adapters are made in).
uint64_t name_hash(const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

double LoraSpec::scaling() const {
  return rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / static_cast<double>(rank);
}

std::vector<std::string> lora_linear_layers(ThinkerImpl& thinker, bool all_linear) {
  std::vector<std::string> out;
  for (const auto& item : thinker.named_modules("", /*include_self=*/false)) {
    if (!dynamic_cast<LinearImpl*>(item.value().get())) continue;
    if (all_linear && (item.key() == "lm_head" || ends_with(item.key(), ".mlp.gate"))) continue;
    out.push_back(item.key());
  }
  return out;
}

std::vector<std::string> lora_expert_tensors(ThinkerImpl& thinker) {
  std::vector<std::string> out;
  for (const auto& item : thinker.named_modules("", /*include_self=*/false))
    if (dynamic_cast<ExpertsImpl*>(item.value().get()))
      for (const char* t : kExpertTensors) out.push_back(item.key() + "." + t);
  return out;
}

bool peft_name_matches(const std::string& name, const std::string& target) {
  return name == target || ends_with(name, "." + target);
}

void add_lora(ThinkerImpl& thinker, const LoraSpec& spec, const std::string& where) {
  if (spec.rank < 1) throw Error(cat(where, ": the LoRA rank must be at least 1, not ", spec.rank));
  if (spec.dropout < 0 || spec.dropout >= 1)
    throw Error(cat(where, ": the LoRA dropout must be in [0, 1), not ", spec.dropout));
  if (spec.dropout > 0 && !spec.parameters.empty())
    throw Error(cat(where, ": LoRA dropout does not work with expert tensors as targets (PEFT refuses it too): ",
                    "set dropout 0 or leave the experts out"));
  const double scaling = spec.scaling();
  auto linears = linear_modules(thinker);
  std::vector<std::string> names;
  for (const auto& [name, m] : linears) names.push_back(name);
  for (const std::string& name : spec.modules) {
    auto it = linears.find(name);
    if (it == linears.end())
      throw Error(cat(where, ": '", name, "' is no linear layer of the model", did_you_mean(name, names)));
    if (name == "lm_head")
      throw Error(cat(where, ": LoRA on lm_head is not supported (the chunked loss reads its weight): train it ",
                      "whole with modules_to_save"));
    if (it->second->lora_A.defined()) continue;
    it->second->add_lora(spec.rank, scaling, spec.dropout);
  }
  auto experts = expert_modules(thinker);
  for (const std::string& name : spec.parameters) {
    const size_t dot = name.rfind('.');
    const std::string owner = dot == std::string::npos ? "" : name.substr(0, dot), tensor = name.substr(dot + 1);
    auto it = experts.find(owner);
    if (it == experts.end() || (tensor != "gate_up_proj" && tensor != "down_proj"))
      throw Error(cat(where, ": '", name, "' is no expert tensor of the model (targets: ",
                      "model.layers.N.mlp.experts.gate_up_proj / down_proj)"));
    it->second->add_lora(tensor, spec.rank, scaling);
  }
}

bool is_lora_parameter(const std::string& name) { return ends_with(name, "lora_A") || ends_with(name, "lora_B"); }

bool under_module(const std::string& name, const std::vector<std::string>& modules) {
  for (const std::string& m : modules)
    if (name.rfind(m + ".", 0) == 0) return true;
  return false;
}

void init_lora_parameter(const std::string& name, at::Tensor& param, const LoraSpec& spec, uint64_t seed) {
  at::NoGradGuard no_grad;
  if (ends_with(name, "lora_B")) {
    param.zero_();
    return;
  }
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed ^ name_hash(name));
  // A's fan-in: [r, in] for a linear layer, [E, in, r] for experts.
  const int64_t fan_in = param.size(1);
  at::Tensor values = at::empty(param.sizes(), at::TensorOptions().dtype(at::kFloat));
  if (spec.gaussian_init)
    values.normal_(0.0, 1.0 / static_cast<double>(spec.rank), gen);
  else  // kaiming_uniform_(a = sqrt(5)): bound = sqrt(6 / ((1 + 5) fan_in)) = 1 / sqrt(fan_in)
    values.uniform_(-1.0 / std::sqrt(static_cast<double>(fan_in)), 1.0 / std::sqrt(static_cast<double>(fan_in)), gen);
  param.copy_(values);
}

}  // namespace omnitune
