#include "omnitune/io/qwen3_omni_names.h"

namespace omnitune {

namespace {
bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
}  // namespace

bool is_talker_tensor(const std::string& hf_name) {
  return starts_with(hf_name, "talker.") || starts_with(hf_name, "code2wav.");
}

std::string qwen3_omni_tower(const std::string& name) {
  if (starts_with(name, "talker.")) return "talker";
  if (starts_with(name, "code2wav.")) return "code2wav";
  const std::string n = starts_with(name, kThinkerPrefix) ? name.substr(std::string(kThinkerPrefix).size()) : name;
  if (starts_with(n, "audio_tower.")) return "audio";
  if (starts_with(n, "visual.")) return "vision";
  if (starts_with(n, "model.")) return "text";
  if (starts_with(n, "lm_head.")) return "lm_head";
  return "other";
}

const std::vector<std::string>& qwen3_omni_towers() {
  static const std::vector<std::string> towers = {"audio", "vision", "text", "lm_head", "talker", "code2wav", "other"};
  return towers;
}

}  // namespace omnitune
