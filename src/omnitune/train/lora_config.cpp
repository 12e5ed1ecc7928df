#include "omnitune/train/lora_config.h"

#include <algorithm>
#include <cmath>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"
#include "omnitune/train/module_pattern.h"
#include "omnitune/weights/peft_adapter.h"

namespace omnitune {

namespace {

std::vector<std::string> string_or_list(ConfigReader& in, const std::string& key) {
  const nlohmann::json& value = in.raw(key);
  if (value.is_string()) return {value.get<std::string>()};
  return in.required<std::vector<std::string>>(key);
}

// The names among `candidates` that `entry` picks (PEFT's suffix rule, or a glob over the whole name).
std::vector<std::string> matching(const std::vector<std::string>& candidates, const std::string& entry,
                                  const std::string& where) {
  std::vector<std::string> out;
  const bool glob = entry.find_first_of("*?{") != std::string::npos;
  std::optional<ModulePattern> pattern;
  if (glob) pattern.emplace(entry, where);
  for (const std::string& name : candidates)
    if (glob ? pattern->matches(name) : peft_name_matches(name, entry)) out.push_back(name);
  if (out.empty()) {  // suggest a whole name, or a last part as PEFT's rule takes it
    std::vector<std::string> suggestions = candidates;
    for (const std::string& name : candidates) suggestions.push_back(name.substr(name.rfind('.') + 1));
    throw Error(cat(where, ": '", entry, "' matches nothing", did_you_mean(entry, suggestions)));
  }
  return out;
}

void add_unique(std::vector<std::string>& to, const std::vector<std::string>& names) {
  for (const std::string& n : names)
    if (std::find(to.begin(), to.end(), n) == to.end()) to.push_back(n);
}

}  // namespace

LoraSettings read_lora_settings(ConfigReader in) {
  LoraSettings s;
  s.where = in.file() + ": " + in.path();
  s.enabled = in.get("enable", true);
  s.hyper.rank = in.get<int64_t>("rank", s.hyper.rank, at_least(1));
  s.hyper.alpha = in.get<double>("alpha", s.hyper.alpha, Range{0, INFINITY, true});
  s.hyper.dropout = in.get<double>("dropout", s.hyper.dropout, between(0, 1));
  s.hyper.rslora = in.get("use_rslora", false);
  if (in.has("init_lora_weights")) {
    const nlohmann::json& init = in.raw("init_lora_weights");
    if (init.is_string() && init.get<std::string>() == "gaussian")
      s.hyper.gaussian_init = true;
    else if (!(init.is_boolean() && init.get<bool>()))
      in.fail("init_lora_weights", "supported: true (PEFT's default) or \"gaussian\"; other inits are not yet");
  }
  if (in.has("target_modules")) s.target_modules = string_or_list(in, "target_modules");
  if (in.has("target_parameters")) s.target_parameters = string_or_list(in, "target_parameters");
  if (in.has("modules_to_save")) s.modules_to_save = string_or_list(in, "modules_to_save");
  if (in.has("pretrained_lora_path")) {
    s.pretrained_lora_path = in.required<std::string>("pretrained_lora_path");
    for (const char* key : {"rank", "alpha", "dropout", "use_rslora", "init_lora_weights", "target_modules",
                            "target_parameters", "modules_to_save"})
      if (in.has(key))
        in.fail(key, "with pretrained_lora_path the adapter's adapter_config.json sets it: leave it out");
  }
  in.finish();
  return s;
}

LoraSpec resolve_lora(ThinkerImpl& thinker, const LoraSettings& s) {
  LoraSpec spec = s.hyper;
  const std::vector<std::string> linears = lora_linear_layers(thinker);
  for (size_t i = 0; i < s.target_modules.size(); ++i) {
    const std::string& entry = s.target_modules[i];
    const std::string where = cat(s.where, ".target_modules[", i, "]");
    add_unique(spec.modules,
               entry == "all-linear" ? lora_linear_layers(thinker, true) : matching(linears, entry, where));
  }
  const std::vector<std::string> experts = lora_expert_tensors(thinker);
  for (size_t i = 0; i < s.target_parameters.size(); ++i)
    add_unique(spec.parameters, matching(experts, s.target_parameters[i], cat(s.where, ".target_parameters[", i, "]")));
  std::vector<std::string> modules;
  for (const auto& item : thinker.named_modules("", /*include_self=*/false)) modules.push_back(item.key());
  for (size_t i = 0; i < s.modules_to_save.size(); ++i)
    add_unique(spec.modules_to_save,
               matching(modules, s.modules_to_save[i], cat(s.where, ".modules_to_save[", i, "]")));
  if (spec.modules.empty() && spec.parameters.empty())
    throw Error(s.where + ": LoRA has no targets (target_modules and target_parameters are empty)");
  return spec;
}

LoraSpec attach_lora(ThinkerImpl& thinker, const LoraSettings& settings) {
  if (!settings.pretrained_lora_path.empty()) return attach_peft_adapter(thinker, settings.pretrained_lora_path);
  LoraSpec spec = resolve_lora(thinker, settings);
  add_lora(thinker, spec, settings.where);
  return spec;
}

std::set<std::string> lora_frozen_parameters(ThinkerImpl& thinker, const LoraSpec& spec) {
  std::set<std::string> out;
  for (const auto& item : thinker.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    if (!is_lora_parameter(name) && !under_module(name, spec.modules_to_save)) out.insert(name);
  }
  return out;
}

}  // namespace omnitune
