// weights/hf_model: a Hugging Face Qwen3-Omni model directory opened for conversion — config, mapped
// shards, and where each thinker parameter lives — checked before anything is written; plus the
// progress and output-directory rules both conversion directions share.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "omnitune/core/progress.h"
#include "omnitune/io/safetensors_checkpoint.h"
#include "omnitune/model/hf_layout.h"

namespace omnitune {

struct HfModel {
  std::string dir;
  std::string config_text;                         // config.json as it is
  std::unique_ptr<SafetensorsCheckpoint> weights;  // mapped, nothing read yet
  std::vector<ParamLayout> layout;                 // of the thinker config.json describes
  int64_t talker_tensors = 0;                      // talker.* / code2wav.*
};

// Errors: not a directory, no config.json, not a Qwen3-Omni config, missing shards or index problems,
// and (one error listing them all) missing, unexpected, mis-shaped or non-float thinker tensors.
HfModel open_hf_model(const std::string& dir);

// Error unless `dir` is absent or empty, or `overwrite` is set. Partial directories of interrupted runs
// do not count (a warning names each).
void require_new_output(const std::string& dir, bool overwrite, const std::string& replaced);

// Progress in MiB for the bytes a ShardWriter reports.
class ByteProgress {
 public:
  ByteProgress(const std::string& label, uint64_t total_bytes);
  void add(uint64_t bytes);

 private:
  ProgressBar bar_;
  uint64_t bytes_ = 0;
  int64_t reported_ = 0;
};

}  // namespace omnitune
