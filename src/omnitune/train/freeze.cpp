#include "omnitune/train/freeze.h"

#include <regex>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"

namespace omnitune {

namespace {

std::string pattern_to_regex(const std::string& pattern) {
  std::string re;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '{') {
      size_t close = pattern.find('}', i);
      if (close == std::string::npos) throw Error(cat("freeze pattern '", pattern, "': unclosed '{'"));
      std::string inner = pattern.substr(i + 1, close - i - 1);
      if (inner == "*") {
        re += "(\\d+)";
      } else {
        size_t dash = inner.find('-');
        if (dash == std::string::npos || dash == 0 || dash + 1 == inner.size() ||
            inner.find_first_not_of("0123456789-") != std::string::npos)
          throw Error(cat("freeze pattern '", pattern, "': '{", inner, "}' is neither {*} nor {a-b}"));
        re += "(\\d+)";  // range checked after matching
      }
      i = close;
    } else if (c == '*') {
      re += ".*";
    } else if (c == '?') {
      re += ".";
    } else {
      if (std::string("\\^$.|+()[]").find(c) != std::string::npos) re += '\\';
      re += c;
    }
  }
  return re;
}

// The {a-b} ranges of `pattern`, in order ({*} gives an unbounded range).
std::vector<std::pair<int64_t, int64_t>> ranges_of(const std::string& pattern) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (size_t i = pattern.find('{'); i != std::string::npos; i = pattern.find('{', i + 1)) {
    std::string inner = pattern.substr(i + 1, pattern.find('}', i) - i - 1);
    if (inner == "*") {
      out.emplace_back(0, INT64_MAX);
    } else {
      size_t dash = inner.find('-');
      out.emplace_back(std::stoll(inner.substr(0, dash)), std::stoll(inner.substr(dash + 1)));
    }
  }
  return out;
}

bool starts_with_any(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (name == p || name.rfind(p + ".", 0) == 0) return true;
  return false;
}

}  // namespace

bool module_name_matches(const std::string& pattern, const std::string& name) {
  std::smatch m;
  if (!std::regex_match(name, m, std::regex(pattern_to_regex(pattern)))) return false;
  auto ranges = ranges_of(pattern);
  for (size_t i = 0; i < ranges.size(); ++i) {
    const std::string digits = m[i + 1].str();
    if (digits.size() > 18) return false;
    int64_t v = std::stoll(digits);
    if (v < ranges[i].first || v > ranges[i].second) return false;
  }
  return true;
}

std::set<std::string> frozen_parameters(const torch::nn::Module& model, const ModelConfig& config) {
  std::vector<std::string> prefixes;
  if (config.vision.freeze)
    prefixes.insert(prefixes.end(), {"visual.patch_embed", "visual.blocks", "visual.merger_list", "visual.pos_embed"});
  if (config.vision_projector.freeze) prefixes.insert(prefixes.end(), {"visual.merger", "visual.merger_list"});
  if (config.audio.freeze) prefixes.push_back("audio_tower");
  if (config.text.freeze) prefixes.insert(prefixes.end(), {"model", "lm_head"});

  std::vector<std::string> module_names;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) module_names.push_back(item.key());
  for (const auto& pattern : config.freeze_patterns) {
    bool any = false;
    for (const auto& name : module_names)
      if (module_name_matches(pattern, name)) {
        prefixes.push_back(name);
        any = true;
      }
    if (!any)
      throw Error(cat(config.path, ": $.freeze: pattern '", pattern, "' matches no module of the model",
                      did_you_mean(pattern, module_names)));
  }
  std::set<std::string> frozen;
  for (const auto& item : model.named_parameters(/*recurse=*/true))
    if (starts_with_any(item.key(), prefixes)) frozen.insert(item.key());
  return frozen;
}

}  // namespace omnitune
