#include "omnitune/weights/hf_model.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <set>

#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/core/log.h"
#include "omnitune/io/qwen3_omni_names.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/load_module.h"
#include "omnitune/model/param_init.h"
#include "omnitune/weights/staged_dir.h"

namespace fs = std::filesystem;

namespace omnitune {

namespace {

std::vector<ParamLayout> layout_of(const ThinkerConfig& config) {
  MetaInit meta;  // shapes only: no memory for weights
  Thinker thinker(config);
  return thinker_layout(*thinker);
}

}  // namespace

HfModel open_hf_model(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error(dir + ": no such Hugging Face model directory");
  fs::path config = fs::path(dir) / "config.json";
  if (!fs::exists(config)) throw Error(dir + ": no config.json: not a Hugging Face model directory");
  HfModel model;
  model.dir = dir;
  model.config_text = read_text_file(config.string());
  model.layout = layout_of(load_thinker_config(config.string()));
  model.weights = std::make_unique<SafetensorsCheckpoint>(dir);

  const SafetensorsCheckpoint& weights = *model.weights;
  LoadProblems problems;
  std::set<std::string> used;
  for (const ParamLayout& p : model.layout) {
    for (const HfTensor& t : p.hf) {
      if (!weights.contains(t.name)) {
        problems.missing.push_back(t.name);
        continue;
      }
      used.insert(t.name);
      const TensorEntry& entry = weights.entry(t.name);
      if (!at::isFloatingType(to_scalar_type(entry.dtype)))
        problems.dtype.push_back(cat(t.name, " (", dtype_name(entry.dtype), ", expected a floating-point tensor)"));
      if (entry.shape != t.shape)
        problems.shape.push_back(cat(t.name, " (checkpoint ", c10::IntArrayRef(entry.shape), ", model expects ",
                                     c10::IntArrayRef(t.shape), ")"));
    }
  }
  for (const auto& name : weights.names()) {
    if (used.count(name)) continue;
    if (is_talker_tensor(name))
      model.talker_tensors += 1;
    else
      problems.unexpected.push_back(name);
  }
  problems.throw_if_any(dir);
  return model;
}

void require_new_output(const std::string& dir, bool overwrite, const std::string& replaced) {
  if (!fs::exists(dir)) return;
  if (!fs::is_directory(dir)) throw Error(dir + ": exists and is not a directory");
  bool empty = true;
  for (const auto& entry : fs::directory_iterator(dir))  // leftovers of interrupted writes: StagedDir reports them
    if (!entry.is_directory() || !is_partial_dir_name(entry.path().filename().string())) empty = false;
  if (!empty && !overwrite) throw Error(dir + ": exists and is not empty; pass --overwrite to replace " + replaced);
}

namespace {
ProgressBar::Options in_mib() {
  ProgressBar::Options options;
  options.unit = "MiB";
  return options;
}
}  // namespace

ByteProgress::ByteProgress(const std::string& label, uint64_t total_bytes)
    : bar_(label, static_cast<int64_t>(total_bytes >> 20), in_mib()) {}

void ByteProgress::add(uint64_t bytes) {
  bytes_ += bytes;
  int64_t mib = static_cast<int64_t>(bytes_ >> 20);
  if (mib > reported_) bar_.advance(mib - reported_);
  reported_ = mib;
}

}  // namespace omnitune
