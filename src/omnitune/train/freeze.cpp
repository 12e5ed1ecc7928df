#include "omnitune/train/freeze.h"

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"

namespace omnitune {

namespace {

bool starts_with_any(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (name == p || name.rfind(p + ".", 0) == 0) return true;
  return false;
}

}  // namespace

std::set<std::string> frozen_parameters(const torch::nn::Module& model, const ModelConfig& config) {
  std::vector<std::string> prefixes;
  if (config.vision.freeze)
    prefixes.insert(prefixes.end(), {"visual.patch_embed", "visual.blocks", "visual.merger_list", "visual.pos_embed"});
  if (config.vision_projector.freeze) prefixes.insert(prefixes.end(), {"visual.merger", "visual.merger_list"});
  if (config.audio.freeze) prefixes.push_back("audio_tower");
  if (config.text.freeze) prefixes.insert(prefixes.end(), {"model", "lm_head"});

  return parameters_under(model, config.freeze_patterns, config.path + ": $.freeze", prefixes);
}

std::set<std::string> parameters_under(const torch::nn::Module& model, const std::vector<ModulePattern>& patterns,
                                       const std::string& where, std::vector<std::string> prefixes) {
  std::vector<std::string> module_names;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) module_names.push_back(item.key());
  for (const auto& pattern : patterns) {
    bool any = false;
    for (const auto& name : module_names)
      if (pattern.matches(name)) {
        prefixes.push_back(name);
        any = true;
      }
    if (!any)
      throw Error(cat(where, ": pattern '", pattern.text(), "' matches no module of the model",
                      did_you_mean(pattern.text(), module_names)));
  }
  std::set<std::string> out;
  for (const auto& item : model.named_parameters(/*recurse=*/true))
    if (starts_with_any(item.key(), prefixes)) out.insert(item.key());
  return out;
}

}  // namespace omnitune
