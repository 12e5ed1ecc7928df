#include "omnitune/io/checkpoint_summary.h"

namespace omnitune {

void TensorCount::add(const TensorEntry& t) {
  tensors += 1;
  parameters += t.numel();
  bytes += t.nbytes();
}

namespace {
bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
}  // namespace

std::string qwen3_omni_tower(const std::string& name) {
  if (starts_with(name, "talker.")) return "talker";
  if (starts_with(name, "code2wav.")) return "code2wav";
  std::string n = starts_with(name, "thinker.") ? name.substr(8) : name;
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

CheckpointSummary summarize(const SafetensorsCheckpoint& checkpoint) {
  CheckpointSummary s;
  for (const auto& name : checkpoint.names()) {
    const TensorEntry& t = checkpoint.entry(name);
    s.total.add(t);
    s.by_dtype[dtype_name(t.dtype)].add(t);
    std::string tower = qwen3_omni_tower(name);
    s.by_tower[tower].add(t);
    if (tower == "audio" || tower == "vision" || starts_with(name, "thinker.")) s.qwen3_omni = true;
  }
  if (!s.qwen3_omni) s.by_tower.clear();
  return s;
}

}  // namespace omnitune
