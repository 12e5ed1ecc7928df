// io/checkpoint_summary: what a checkpoint holds, in totals, by dtype and, for Qwen3-Omni, by tower
// (audio, vision, text, lm_head, talker, code2wav) — the numbers `omnitune inspect` prints.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "omnitune/io/qwen3_omni_names.h"
#include "omnitune/io/safetensors_checkpoint.h"

namespace omnitune {

struct TensorCount {
  int64_t tensors = 0;
  int64_t parameters = 0;
  uint64_t bytes = 0;
  void add(const TensorEntry& t);
};

struct CheckpointSummary {
  TensorCount total;
  std::map<std::string, TensorCount> by_dtype;
  std::map<std::string, TensorCount> by_tower;  // empty when no Qwen3-Omni names are present
  bool qwen3_omni = false;
};

// `tensors`: every tensor once, whole (nbytes() = end - begin).
CheckpointSummary summarize(const std::vector<TensorEntry>& tensors);

}  // namespace omnitune
