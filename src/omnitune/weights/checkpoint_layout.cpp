#include "omnitune/weights/checkpoint_layout.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/core/log.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/io/safetensors_checkpoint.h"

namespace fs = std::filesystem;

namespace omnitune {

namespace {

// "release" or a non-negative iteration number.
bool valid_tracker_value(const std::string& value) {
  return value == kReleaseDirName ||
         (!value.empty() && value.size() <= 18 && value.find_first_not_of("0123456789") == std::string::npos);
}

std::string read_trimmed(const fs::path& file) {
  const std::string s = read_text_file(file.string());
  size_t begin = s.find_first_not_of(" \t\r\n"), end = s.find_last_not_of(" \t\r\n");
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

bool is_seed_dcp_dir(const fs::path& dir) { return fs::exists(dir / ".metadata"); }

// iter_0000010 -> 10; -1 for other names.
int64_t iteration_of_dir_name(const std::string& name) {
  if (name.rfind("iter_", 0) != 0 || name.size() == 5 || name.size() > 23) return -1;
  std::string digits = name.substr(5);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

}  // namespace

std::string iteration_dir_name(int64_t iteration) {
  if (iteration < 0) throw Error(cat("iteration ", iteration, " is negative"));
  char name[32];
  std::snprintf(name, sizeof name, "iter_%07lld", static_cast<long long>(iteration));
  return name;
}

CheckpointStaging::CheckpointStaging(std::string root, std::string name)
    : root_(root), staged_(std::move(root), std::move(name)) {}

void CheckpointStaging::commit(const std::string& tracker_value) {
  if (!valid_tracker_value(tracker_value))
    throw Error("checkpoint tracker value '" + tracker_value + "' is neither 'release' nor an iteration number");
  staged_.commit();
  write_file_atomic((fs::path(root_) / kTrackerFile).string(), tracker_value);
}

bool is_training_checkpoint(const std::string& path) {
  return fs::is_directory(path) &&
         (fs::exists(fs::path(path) / kTrackerFile) || fs::exists(fs::path(path) / kCheckpointInfoFile));
}

std::vector<std::string> checkpoint_dirs(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if ((iteration_of_dir_name(name) >= 0 || name == kReleaseDirName) && fs::exists(entry.path() / kCheckpointInfoFile))
      out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool is_hf_model_dir(const std::string& path) {
  fs::path p(path);
  return fs::is_directory(p) && fs::is_regular_file(p / "config.json") && !fs::exists(p / kCheckpointInfoFile) &&
         (fs::is_regular_file(p / kSingleFileName) || fs::is_regular_file(p / kIndexFileName));
}

CheckpointLocation locate_checkpoint(const std::string& path) {
  fs::path root(path);
  if (!fs::exists(root)) throw Error(path + ": no such checkpoint directory");
  if (!fs::is_directory(root))
    throw Error(path + ": not a directory (expected a checkpoint save directory or its iter_*/release)");
  report_partial_dirs(root.string());
  CheckpointLocation location;
  fs::path tracker = root / kTrackerFile;
  if (fs::exists(tracker)) {
    std::string value = read_trimmed(tracker);
    if (!valid_tracker_value(value))
      throw Error(tracker.string() + ": '" + value + "' is neither 'release' nor an iteration number");
    location.release = value == kReleaseDirName;
    location.iteration = location.release ? 0 : std::stoll(value);
    fs::path dir = root / (location.release ? std::string(kReleaseDirName) : iteration_dir_name(location.iteration));
    if (!fs::is_directory(dir))
      throw Error(tracker.string() + ": names checkpoint '" + value + "', but " + dir.string() + " does not exist");
    location.dir = dir.string();
  } else if (fs::exists(root / kCheckpointInfoFile)) {
    std::string name = fs::absolute(root).lexically_normal().filename().string();
    if (name.empty()) name = fs::absolute(root).lexically_normal().parent_path().filename().string();
    location.dir = path;
    location.iteration = std::max<int64_t>(0, iteration_of_dir_name(name));
    location.release = iteration_of_dir_name(name) < 0 && read_checkpoint_info(path).kind == "release";
  } else {
    std::vector<std::string> candidates;
    for (const auto& entry : fs::directory_iterator(root)) {
      std::string name = entry.path().filename().string();
      if (entry.is_directory() && (name == kReleaseDirName || iteration_of_dir_name(name) >= 0))
        candidates.push_back(name);
    }
    std::sort(candidates.begin(), candidates.end());
    if (!candidates.empty()) {
      std::string list;
      for (const auto& c : candidates) list += (list.empty() ? "" : ", ") + c;
      throw Error(path + ": no " + kTrackerFile +
                  " (the save did not finish?); pass one of its checkpoint directories: " + list);
    }
    if (is_seed_dcp_dir(root))
      throw Error(path +
                  ": a torch DCP checkpoint (.metadata, *.distcp); OmniTune checkpoints are safetensors. Convert the "
                  "Hugging Face weights with `omnitune convert hf-to-dcp` instead");
    if (is_hf_model_dir(path)) throw Error(path + ": a Hugging Face model directory, not a training checkpoint");
    throw Error(path + ": not a training checkpoint: no " + kTrackerFile + " and no " + kCheckpointInfoFile);
  }
  read_checkpoint_info(location.dir);
  return location;
}

void write_checkpoint_info(const std::string& dir, const CheckpointInfo& info) {
  if (info.kind != "training" && info.kind != "release")
    throw Error("checkpoint kind '" + info.kind + "' is neither 'training' nor 'release'");
  nlohmann::json j = {{"format", kCheckpointFormat},
                      {"version", kCheckpointVersion},
                      {"kind", info.kind},
                      {"dcp_prefix", info.dcp_prefix},
                      {"hf_prefix", info.hf_prefix}};
  write_file_atomic((fs::path(dir) / kCheckpointInfoFile).string(), j.dump(2) + "\n");
}

CheckpointInfo read_checkpoint_info(const std::string& dir) {
  fs::path file = fs::path(dir) / kCheckpointInfoFile;
  if (!fs::exists(file)) {
    std::string hint = is_seed_dcp_dir(dir) ? " (this is a torch DCP checkpoint, which OmniTune does not read)" : "";
    throw Error(dir + ": no " + kCheckpointInfoFile + ": not an OmniTune checkpoint directory" + hint);
  }
  nlohmann::json j = load_json_file(file.string());
  auto text = [&](const char* key, bool required) -> std::string {
    auto it = j.find(key);
    if (it == j.end() && !required) return "";
    if (it == j.end() || !it->is_string()) throw Error(file.string() + ": '" + key + "' must be a string");
    return it->get<std::string>();
  };
  if (!j.is_object() || text("format", true) != kCheckpointFormat)
    throw Error(file.string() + ": not an OmniTune checkpoint (format is not '" + kCheckpointFormat + "')");
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer())
    throw Error(file.string() + ": 'version' must be an integer");
  if (version->get<int64_t>() > kCheckpointVersion)
    throw Error(cat(file.string(), ": checkpoint format version ", version->get<int64_t>(),
                    " is newer than this OmniTune reads (", kCheckpointVersion, ")"));
  CheckpointInfo info;
  info.kind = text("kind", true);
  if (info.kind != "training" && info.kind != "release")
    throw Error(file.string() + ": 'kind' is '" + info.kind + "', expected 'training' or 'release'");
  info.dcp_prefix = text("dcp_prefix", false);
  info.hf_prefix = text("hf_prefix", false);
  return info;
}

std::string checkpoint_tensor_name(const std::string& name, const std::string& dcp_prefix,
                                   const std::string& hf_prefix) {
  if (hf_prefix.empty()) return dcp_prefix + name;
  size_t at = name.find(hf_prefix);
  if (at == std::string::npos) return name;
  return name.substr(0, at) + dcp_prefix + name.substr(at + hf_prefix.size());
}

}  // namespace omnitune
