#include "omnitune/io/checkpoint_summary.h"

#include "omnitune/io/qwen3_omni_names.h"

namespace omnitune {

void TensorCount::add(const TensorEntry& t) {
  tensors += 1;
  parameters += t.numel();
  bytes += t.nbytes();
}

namespace {
bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
}  // namespace

CheckpointSummary summarize(const std::vector<TensorEntry>& tensors) {
  CheckpointSummary s;
  for (const TensorEntry& t : tensors) {
    const std::string& name = t.name;
    s.total.add(t);
    s.by_dtype[dtype_name(t.dtype)].add(t);
    std::string tower = qwen3_omni_tower(name);
    s.by_tower[tower].add(t);
    if (tower == "audio" || tower == "vision" || starts_with(name, kThinkerPrefix)) s.qwen3_omni = true;
  }
  if (!s.qwen3_omni) s.by_tower.clear();
  return s;
}

}  // namespace omnitune
