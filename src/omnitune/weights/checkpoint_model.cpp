#include "omnitune/weights/checkpoint_model.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/weights/config_match.h"
#include "omnitune/weights/tensor_stream.h"

namespace fs = std::filesystem;

namespace omnitune {

namespace {

nlohmann::json parse_config_text(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": not valid JSON: " + e.what());
  }
}

}  // namespace

void write_checkpoint_model(const std::string& dir, const std::vector<StreamedTensor>& tensors,
                            const std::string& hf_config_json, const CheckpointInfo& info, uint64_t max_shard_bytes,
                            const std::function<void(uint64_t)>& progress, const WriterPart& part) {
  if (part.writer == 0 && (fs::exists(fs::path(dir) / kSingleFileName) || fs::exists(fs::path(dir) / kIndexFileName)))
    throw Error(dir + ": already holds model weights");
  parse_config_text(hf_config_json, "the model config to save");
  write_streamed_shards(dir, tensors, max_shard_bytes, {{"format", "pt"}}, progress, part);
  if (part.writer != 0) return;
  write_file_atomic((fs::path(dir) / "config.json").string(), hf_config_json);
  write_checkpoint_info(dir, info);
}

void save_checkpoint_model(const ThinkerImpl& thinker, const std::string& dir, const std::string& hf_config_json,
                           const std::string& kind, uint64_t max_shard_bytes) {
  NamedTensors params;
  for (const auto& item : thinker.named_parameters(true)) params.emplace_back(item.key(), item.value());
  save_checkpoint_model(params, dir, hf_config_json, kind, max_shard_bytes);
}

void save_checkpoint_model(const NamedTensors& params, const std::string& dir, const std::string& hf_config_json,
                           const std::string& kind, uint64_t max_shard_bytes, const WriterPart& part) {
  CheckpointInfo info;
  info.kind = kind;
  std::vector<StreamedTensor> tensors;
  for (const auto& [name, value] : params) {
    at::Tensor p = value.detach();
    tensors.push_back({checkpoint_tensor_name(name, info.dcp_prefix, info.hf_prefix), DType::kF32, p.sizes().vec(),
                       [p](const ByteSink& sink) { emit_tensor(p, at::kFloat, sink); }});
  }
  write_checkpoint_model(dir, tensors, hf_config_json, info, max_shard_bytes, {}, part);
}

SafetensorsCheckpoint open_checkpoint_model(const std::string& dir) {
  if (fs::exists(fs::path(dir) / kSingleFileName) || fs::exists(fs::path(dir) / kIndexFileName))
    return SafetensorsCheckpoint(dir);  // model.safetensors first, as transformers
  throw Error(dir + ": no " + kSingleFileName + " or " + kIndexFileName + " (the checkpoint holds no model weights)");
}

std::string checkpoint_config_text(const std::string& dir) {
  fs::path file = fs::path(dir) / "config.json";
  if (!fs::exists(file))
    throw Error(dir + ": no config.json (every checkpoint carries the model config it was made for)");
  return read_text_file(file.string());
}

void check_checkpoint_config(const std::string& dir, const std::string& expected_hf_config_json) {
  std::string file = (fs::path(dir) / "config.json").string();
  check_same_thinker_config(parse_config_text(checkpoint_config_text(dir), file),
                            parse_config_text(expected_hf_config_json, "the expected model config"),
                            "checkpoint " + dir);
}

LoadProblems checkpoint_tensor_problems(const SafetensorsCheckpoint& model, const std::vector<ParamLayout>& params,
                                        const CheckpointInfo& info) {
  LoadProblems problems;
  std::set<std::string> used;
  for (const ParamLayout& p : params) {
    std::string name = checkpoint_tensor_name(p.name, info.dcp_prefix, info.hf_prefix);
    if (!model.contains(name)) {
      problems.missing.push_back(name);
      continue;
    }
    used.insert(name);
    const TensorEntry& entry = model.entry(name);
    if (!at::isFloatingType(to_scalar_type(entry.dtype)))
      problems.dtype.push_back(cat(name, " (", dtype_name(entry.dtype), ", expected a floating-point tensor)"));
    if (entry.shape != p.shape)
      problems.shape.push_back(cat(name, " (checkpoint ", c10::IntArrayRef(entry.shape), ", model expects ",
                                   c10::IntArrayRef(p.shape), ")"));
  }
  for (const auto& name : model.names())
    if (!used.count(name)) problems.unexpected.push_back(name);
  return problems;
}

void load_checkpoint_model(ThinkerImpl& thinker, const std::string& dir, const std::string& expected_hf_config_json) {
  CheckpointInfo info = read_checkpoint_info(dir);
  check_checkpoint_config(dir, expected_hf_config_json);
  SafetensorsCheckpoint model = open_checkpoint_model(dir);
  checkpoint_tensor_problems(model, thinker_layout(thinker), info).throw_if_any(dir);
  at::NoGradGuard no_grad;
  for (auto& item : thinker.named_parameters(true)) {
    std::string name = checkpoint_tensor_name(item.key(), info.dcp_prefix, info.hf_prefix);
    const SafetensorsFile& file = model.file_of(name);
    const TensorEntry& entry = file.at(name);
    item.value().copy_(read_tensor(file, entry));
    release_pages(file, entry);
  }
}

}  // namespace omnitune
