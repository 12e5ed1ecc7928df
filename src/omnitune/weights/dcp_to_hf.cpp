// convert_dcp_to_hf: a training checkpoint back to a complete Hugging Face directory laid out like the
// original (the seed: ExpertMergeDcpConverter.dcp_to_hf, which drops the talker and keeps fp32); a LoRA run's
// checkpoint exports its base with the adapter merged.
#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/core/output_paths.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/weights/checkpoint_model.h"
#include "omnitune/weights/convert.h"
#include "omnitune/weights/hf_model.h"
#include "omnitune/weights/lora_merge.h"
#include "omnitune/weights/peft_adapter.h"
#include "omnitune/weights/tensor_stream.h"

namespace fs = std::filesystem;

namespace omnitune {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Weights of the original that the export replaces (safetensors, or a stale pytorch_model*.bin set).
bool is_weight_file(const std::string& name) {
  return ends_with(name, ".safetensors") || ends_with(name, ".safetensors.index.json") ||
         (name.rfind("pytorch_model", 0) == 0 && (ends_with(name, ".bin") || ends_with(name, ".bin.index.json")));
}

const char* hf_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "float32";
    case DType::kF16: return "float16";
    case DType::kBF16: return "bfloat16";
    default: throw Error(cat("--dtype: ", dtype_name(dtype), " is not fp32, fp16 or bf16"));
  }
}

// Copies every non-weight file and directory of `from` (tokenizer, processor, chat template, generation
// config...) into `to`; config.json gets its dtype fields set to `dtype` when given.
void copy_model_assets(const fs::path& from, const fs::path& to, const fs::path& target, std::optional<DType> dtype) {
  for (const auto& entry : fs::directory_iterator(from)) {
    std::string name = entry.path().filename().string();
    if (is_weight_file(name)) continue;
    if (entry.is_directory()) {
      if (name[0] != '.' && !(fs::exists(target) && fs::equivalent(entry.path(), target)))
        fs::copy(entry.path(), to / name, fs::copy_options::recursive);
    } else if (entry.is_regular_file()) {
      fs::copy_file(entry.path(), to / name);
    }
  }
  if (!dtype) return;
  nlohmann::json config = load_json_file((to / "config.json").string());
  bool changed = false;
  for (nlohmann::json* part : {&config, config.contains("thinker_config") ? &config["thinker_config"] : nullptr})
    for (const char* key : {"dtype", "torch_dtype"})
      if (part && part->contains(key) && (*part)[key] != hf_dtype_name(*dtype)) {
        (*part)[key] = hf_dtype_name(*dtype);
        changed = true;
      }
  if (changed) write_file_atomic((to / "config.json").string(), config.dump(2) + "\n");
}

// The original's tensors in file order: shards by name, then by offset.
std::vector<std::pair<const SafetensorsFile*, const TensorEntry*>> original_order(const SafetensorsCheckpoint& ckpt) {
  std::vector<const SafetensorsFile*> shards;
  for (const auto& shard : ckpt.shards()) shards.push_back(shard.get());
  std::sort(shards.begin(), shards.end(), [](auto* a, auto* b) { return a->path() < b->path(); });
  std::vector<std::pair<const SafetensorsFile*, const TensorEntry*>> out;
  for (const SafetensorsFile* shard : shards)
    for (const TensorEntry& entry : shard->tensors()) out.emplace_back(shard, &entry);
  return out;
}

// Per-expert tensor `index` of a merged parameter (gate_e, up_e, ... or down_e), from the checkpoint's
// [E, H, 2I] / [E, I, H] tensor (whole, or blocks of experts), reading and then releasing expert e's slab.
void emit_expert(const std::vector<TensorPiece>& pieces, const ParamLayout& p, size_t index, at::ScalarType dtype,
                 const ByteSink& sink) {
  const int64_t e = hf_expert(p, index);
  for (const TensorPiece& block : pieces) {
    const TensorEntry& entry = *block.entry;
    const int64_t row = e - block.first_row;
    if (row < 0 || row >= entry.shape[0]) continue;
    at::Tensor piece =
        hf_view_of_slab(p, read_tensor(*block.file, entry)[row], index).to(dtype).contiguous();  // [I, H] or [H, I]
    sink(piece.data_ptr(), piece.nbytes());
    const uint64_t slab_bytes = entry.nbytes() / static_cast<uint64_t>(entry.shape[0]);
    release_pages(*block.file, entry, static_cast<uint64_t>(row) * slab_bytes, slab_bytes);
  }
}

}  // namespace

void convert_dcp_to_hf(const DcpToHfOptions& o) {
  HfModel original = open_hf_model(o.hf_dir);
  if (o.dtype) hf_dtype_name(*o.dtype);
  CheckpointLocation location = locate_checkpoint(o.dcp_dir);
  CheckpointInfo info = read_checkpoint_info(location.dir);
  check_checkpoint_config(location.dir, original.config_text);
  TensorPieces model = open_checkpoint_model(location.dir);
  std::optional<MergedThinker> merged;  // a LoRA run's checkpoint: its base with the adapter merged
  if (!adapter_base(location.dir).empty())
    merged.emplace(location.dir, original.config_text);
  else
    checkpoint_tensor_problems(model, original.layout, info).throw_if_any(location.dir);

  check_output_is_not_input({"--save-dir", o.save_dir}, {{"--hf-dir", o.hf_dir}, {"--dcp-dir", o.dcp_dir}});
  const fs::path save = fs::absolute(o.save_dir).lexically_normal();
  require_new_output(o.save_dir, o.overwrite, "it");

  std::map<std::string, std::pair<const ParamLayout*, size_t>> source;  // HF name -> parameter, index in its hf list
  for (const ParamLayout& p : original.layout)
    for (size_t i = 0; i < p.hf.size(); ++i) source[p.hf[i].name] = {&p, i};
  std::vector<StreamedTensor> tensors;
  uint64_t total = 0;
  for (const auto& [shard, entry] : original_order(*original.weights)) {
    auto it = source.find(entry->name);
    StreamedTensor t{entry->name, entry->dtype, entry->shape, {}};
    if (it == source.end()) {  // talker / code2wav: the original bytes
      t.produce = [shard, entry](const ByteSink& sink) {
        emit_mapped(*shard, *entry, to_scalar_type(entry->dtype), sink);
      };
    } else if (merged) {
      const auto [param, index] = it->second;
      if (o.dtype) t.dtype = *o.dtype;
      t.produce = [m = &*merged, param, index, dtype = to_scalar_type(t.dtype)](const ByteSink& sink) {
        const at::Tensor value = m->hf_tensor(*param, index).to(dtype).contiguous();
        sink(value.data_ptr(), value.nbytes());
      };
    } else {
      const auto [param, index] = it->second;
      if (o.dtype) t.dtype = *o.dtype;
      const std::string name = checkpoint_tensor_name(param->name, info.dcp_prefix, info.hf_prefix);
      const std::vector<TensorPiece>* pieces = &model.pieces(name);  // in row order: their bytes in sequence
      const at::ScalarType dtype = to_scalar_type(t.dtype);
      if (param->kind == ParamKind::kPlain)
        t.produce = [pieces, dtype](const ByteSink& sink) {
          for (const TensorPiece& piece : *pieces) emit_mapped(*piece.file, *piece.entry, dtype, sink);
        };
      else
        t.produce = [pieces, param, index, dtype](const ByteSink& sink) {
          emit_expert(*pieces, *param, index, dtype, sink);
        };
    }
    total += t.nbytes();
    tensors.push_back(std::move(t));
  }

  StagedDir staged(save.parent_path().string(), save.filename().string());
  {
    ByteProgress progress("dcp-to-hf", total);
    write_streamed_shards(staged.dir(), tensors, o.max_shard_bytes, {{"format", "pt"}},
                          [&](uint64_t n) { progress.add(n); });
  }
  copy_model_assets(o.hf_dir, staged.dir(), save, o.dtype);
  staged.commit();
  log_info(cat("dcp-to-hf: wrote ", tensors.size(), " tensors (", total >> 20, " MiB; ", original.talker_tensors,
               " talker/code2wav tensors copied unchanged) from ", location.dir, " to ", o.save_dir));
}

}  // namespace omnitune
