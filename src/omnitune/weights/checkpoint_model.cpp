#include "omnitune/weights/checkpoint_model.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/lora.h"
#include "omnitune/weights/config_match.h"
#include "omnitune/weights/peft_adapter.h"
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

void save_checkpoint_rows(const NamedTensors& rows, const std::vector<int64_t>& first_rows, const std::string& dir,
                          const std::string& hf_config_json, const std::string& kind, int64_t part, int64_t parts) {
  CheckpointInfo info;
  info.kind = kind;
  NamedTensors blocks;
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> offsets;
  for (size_t i = 0; i < rows.size(); ++i) {
    const at::Tensor& t = rows[i].second;
    if (t.size(0) == 0) continue;
    names.push_back(checkpoint_tensor_name(rows[i].first, info.dcp_prefix, info.hf_prefix));
    blocks.emplace_back(names.back(), t.detach().to(at::kFloat));
    std::vector<int64_t> at(static_cast<size_t>(t.dim()), 0);
    at[0] = first_rows[i];
    offsets.push_back(at);
  }
  save_tensors(
      (fs::path(dir) / part_file_name("model", static_cast<size_t>(part), static_cast<size_t>(parts))).string(), blocks,
      {{"format", "pt"}, {kShardingInfoKey, sharding_info(names, offsets)}});
  if (part != 0) return;
  parse_config_text(hf_config_json, "the model config to save");
  write_file_atomic((fs::path(dir) / "config.json").string(), hf_config_json);
  write_checkpoint_info(dir, info);
}

std::vector<std::string> part_files(const std::string& dir, const std::string& stem) {
  std::vector<std::string> found;
  const std::string prefix = stem + "-", suffix = ".safetensors";
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size() + suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      found.push_back(name);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (size_t k = 0; k < found.size(); ++k) {
    if (found[k] != part_file_name(stem, k, found.size()))
      throw Error(cat(dir, ": the ", stem, " files are incomplete or mixed: expected ",
                      part_file_name(stem, k, found.size()), ", found ", found[k]));
    paths.push_back((fs::path(dir) / found[k]).string());
  }
  return paths;
}

TensorPieces open_checkpoint_model(const std::string& dir) {
  if (fs::exists(fs::path(dir) / kSingleFileName) || fs::exists(fs::path(dir) / kIndexFileName)) {
    SafetensorsCheckpoint whole(dir);  // model.safetensors first, as transformers; the index checked
    std::vector<std::string> paths;
    for (const auto& shard : whole.shards()) paths.push_back(shard->path());
    return TensorPieces(paths);
  }
  std::vector<std::string> rows = part_files(dir, "model");  // blocks of rows written by the ranks
  if (rows.empty())
    throw Error(dir + ": no " + kSingleFileName + " or " + kIndexFileName +
                " (nor the model-*-of-*.safetensors blocks of a sharded job): the checkpoint holds no model weights");
  return TensorPieces(rows);
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

LoadProblems checkpoint_tensor_problems(const TensorPieces& model, const std::vector<ParamLayout>& params,
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
    const DType dtype = model.dtype(name);
    const std::vector<int64_t> shape = model.shape(name);
    if (!at::isFloatingType(to_scalar_type(dtype)))
      problems.dtype.push_back(cat(name, " (", dtype_name(dtype), ", expected a floating-point tensor)"));
    if (shape != p.shape)
      problems.shape.push_back(
          cat(name, " (checkpoint ", c10::IntArrayRef(shape), ", model expects ", c10::IntArrayRef(p.shape), ")"));
  }
  for (const auto& name : model.names())
    if (!used.count(name)) problems.unexpected.push_back(name);
  return problems;
}

CheckpointModel::CheckpointModel(const ThinkerImpl& thinker, const std::string& dir,
                                 const std::string& expected_hf_config_json)
    : info(read_checkpoint_info(dir)),
      tensors((check_checkpoint_config(dir, expected_hf_config_json), open_checkpoint_model(dir))) {
  std::vector<ParamLayout> layout = thinker_layout(thinker);
  const std::string adapter_config = dir + "/" + kCheckpointAdapterConfig;
  if (fs::exists(adapter_config)) {  // a LoRA run's: the adapters and modules_to_save only
    adapter_only = true;
    std::vector<std::string> saved;
    const nlohmann::json config = load_json_file(adapter_config);
    if (config.contains("modules_to_save") && config["modules_to_save"].is_array())
      saved = config["modules_to_save"].get<std::vector<std::string>>();
    std::erase_if(layout,
                  [&](const ParamLayout& p) { return !is_lora_parameter(p.name) && !under_module(p.name, saved); });
  } else {  // a base model's: its adapters (if any) start fresh
    std::erase_if(layout, [](const ParamLayout& p) { return is_lora_parameter(p.name); });
  }
  for (const ParamLayout& p : layout) holds.insert(p.name);
  checkpoint_tensor_problems(tensors, layout, info).throw_if_any(dir);
}

void CheckpointModel::read_rows(const std::string& param, int64_t first, at::Tensor& rows) const {
  const std::string name = checkpoint_tensor_name(param, info.dcp_prefix, info.hf_prefix);
  at::NoGradGuard no_grad;
  rows.copy_(tensors.read(name, first, rows.dim() == 0 ? -1 : rows.size(0)));
  for (const TensorPiece& piece : tensors.pieces(name)) release_pages(*piece.file, *piece.entry);
}

bool load_checkpoint_model(ThinkerImpl& thinker, const std::string& dir, const std::string& expected_hf_config_json) {
  const CheckpointModel model(thinker, dir, expected_hf_config_json);
  for (auto& item : thinker.named_parameters(true))
    if (model.holds.count(item.key())) model.read_rows(item.key(), 0, item.value());
  return model.adapter_only;
}

}  // namespace omnitune
