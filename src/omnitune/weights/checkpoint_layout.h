// weights/checkpoint_layout: the on-disk layout of training checkpoints (the seed's Megatron/DCP layout
// with safetensors + JSON files instead of torch DCP pickles):
//   <root>/latest_checkpointed_iteration.txt   "<N>" or "release"; written last, atomically
//   <root>/iter_%07d/ or <root>/release/        checkpoint.json, config.json, model safetensors (+ the trainer's files)
// A directory is written as <root>/.<name>.partial-<pid> and renamed into place on commit; readers skip
// (and warn about) partial directories left behind by an interrupted save.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "omnitune/weights/staged_dir.h"

namespace omnitune {

inline constexpr const char* kTrackerFile = "latest_checkpointed_iteration.txt";
inline constexpr const char* kReleaseDirName = "release";
inline constexpr const char* kCheckpointInfoFile = "checkpoint.json";
inline constexpr const char* kCheckpointFormat = "omnitune-checkpoint";
inline constexpr int kCheckpointVersion = 1;

std::string iteration_dir_name(int64_t iteration);  // "iter_0000010"

// One checkpoint directory being written.
class CheckpointStaging {
 public:
  // Creates `root` (Error if not creatable/writable) and <root>/.<name>.partial-<pid>.
  CheckpointStaging(std::string root, std::string name);
  const std::string& dir() const { return staged_.dir(); }  // write the files here
  // fsyncs every file and the directory, renames it to <root>/<name> (replacing an existing one without a
  // moment where neither is complete), then writes the tracker atomically: "10" or "release".
  void commit(const std::string& tracker_value);

 private:
  std::string root_;
  StagedDir staged_;
};

struct CheckpointLocation {
  std::string dir;
  bool release = false;
  int64_t iteration = 0;
};

// `path`: a save root with a tracker, or an iter_*/release directory itself. Errors: nothing there, a
// tracker naming a missing directory, a directory without (a valid) checkpoint.json. Warns about the
// partial directories it skips.
CheckpointLocation locate_checkpoint(const std::string& path);

bool is_training_checkpoint(const std::string& path);  // a tracker or checkpoint.json in `path`
// The checkpoint directories (iter_* and release with a checkpoint.json) directly in `root`, sorted by name.
std::vector<std::string> checkpoint_dirs(const std::string& root);
// config.json + model.safetensors[.index.json], and no checkpoint.json (a checkpoint directory has the same
// files, but its tensor names and expert layout are not Hugging Face's).
bool is_hf_model_dir(const std::string& path);

// checkpoint.json: {"format": "omnitune-checkpoint", "version": 1, "kind", "dcp_prefix", "hf_prefix"}.
// Other keys are allowed (and ignored) so that writers can add to it.
struct CheckpointInfo {
  std::string kind = "training";  // "training" | "release"
  std::string dcp_prefix;         // see checkpoint_tensor_name
  std::string hf_prefix;
};
void write_checkpoint_info(const std::string& dir, const CheckpointInfo& info);
CheckpointInfo read_checkpoint_info(const std::string& dir);  // Error: missing, another format, newer version

// The name of thinker parameter `name` in the checkpoint, with the seed's prefix rule (ExpertMergeDcpConverter):
// `hf_prefix` non-empty: its first occurrence replaced by `dcp_prefix` (unchanged when absent); else
// `dcp_prefix` + name.
std::string checkpoint_tensor_name(const std::string& name, const std::string& dcp_prefix,
                                   const std::string& hf_prefix);

}  // namespace omnitune
