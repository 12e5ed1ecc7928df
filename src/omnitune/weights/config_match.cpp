#include "omnitune/weights/config_match.h"

#include <set>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

const std::set<std::string> kIgnoredKeys = {"dtype",
                                            "torch_dtype",
                                            "_name_or_path",
                                            "architectures",
                                            "transformers_version",
                                            "attn_implementation",
                                            "_attn_implementation",
                                            "_attn_implementation_autoset",
                                            "initializer_range",
                                            "use_cache",
                                            "output_attentions",
                                            "output_hidden_states",
                                            "return_dict",
                                            "output_router_logits",
                                            "router_aux_loss_coef"};

std::string short_text(const nlohmann::json* value) {
  if (!value) return "absent";
  std::string text = value->dump();
  if (text.size() > 60) text.replace(57, std::string::npos, "...");
  return text;
}

void compare(const nlohmann::json* a, const nlohmann::json* b, const std::string& path, std::vector<std::string>& out) {
  if (a && b && a->is_object() && b->is_object()) {
    std::set<std::string> keys;
    for (const auto& item : a->items()) keys.insert(item.key());
    for (const auto& item : b->items()) keys.insert(item.key());
    for (const auto& key : keys) {
      if (kIgnoredKeys.count(key)) continue;
      auto ia = a->find(key), ib = b->find(key);
      compare(ia == a->end() ? nullptr : &*ia, ib == b->end() ? nullptr : &*ib, path.empty() ? key : path + "." + key,
              out);
    }
    return;
  }
  if (a && b && *a == *b) return;
  out.push_back(cat(path, " (checkpoint ", short_text(a), ", expected ", short_text(b), ")"));
}

// The thinker part and the key path it sits at.
std::pair<const nlohmann::json*, std::string> thinker_part(const nlohmann::json& config) {
  auto it = config.is_object() ? config.find("thinker_config") : config.end();
  if (it != config.end()) return {&*it, "thinker_config"};
  return {&config, ""};
}

}  // namespace

std::vector<std::string> thinker_config_differences(const nlohmann::json& checkpoint, const nlohmann::json& expected) {
  auto [a, path_a] = thinker_part(checkpoint);
  auto [b, path_b] = thinker_part(expected);
  std::vector<std::string> out;
  compare(a, b, path_b.empty() ? path_a : path_b, out);
  return out;
}

void check_same_thinker_config(const nlohmann::json& checkpoint, const nlohmann::json& expected,
                               const std::string& what) {
  std::vector<std::string> diffs = thinker_config_differences(checkpoint, expected);
  if (diffs.empty()) return;
  std::string message =
      cat(what, ": made for a different model config (", diffs.size(), " thinker config keys differ):");
  for (size_t i = 0; i < diffs.size() && i < 20; ++i) message += "\n    " + diffs[i];
  if (diffs.size() > 20) message += cat("\n    ... and ", diffs.size() - 20, " more");
  throw Error(message);
}

}  // namespace omnitune
