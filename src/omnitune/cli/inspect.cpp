// omnitune inspect <checkpoint-dir|file.safetensors>: what a checkpoint holds, without loading it; with
// --mm-model, what a LoRA run of a model.json trains and saves.
#include <ATen/ATen.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "omnitune/cli/commands.h"
#include "omnitune/core/error.h"
#include "omnitune/io/checkpoint_summary.h"
#include "omnitune/model/hf_checkpoint.h"
#include "omnitune/model/lora.h"
#include "omnitune/model/param_init.h"
#include "omnitune/train/lora_config.h"
#include "omnitune/train/model_config.h"
#include "omnitune/weights/checkpoint_model.h"

namespace omnitune {

namespace {

struct InspectOptions {
  std::string path, mm_model;
  bool json = false;
  bool summary_only = false;
};

std::string with_commas(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  std::ostringstream out;
  out << std::fixed << std::setprecision(u == 0 ? 0 : 2) << v << " " << units[u];
  return out.str();
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

nlohmann::json count_json(const TensorCount& c) {
  return {{"tensors", c.tensors}, {"parameters", c.parameters}, {"bytes", c.bytes}};
}

// What inspect lists: every tensor once, whole, sorted by name.
struct Listing {
  std::string path;
  size_t files = 0;
  std::vector<TensorEntry> tensors;
};

Listing list_checkpoint(const std::string& path) {
  Listing out{path, 0, {}};
  if (std::filesystem::is_directory(path) && !std::filesystem::exists(std::filesystem::path(path) / kIndexFileName) &&
      !std::filesystem::exists(std::filesystem::path(path) / kSingleFileName) && !part_files(path, "model").empty()) {
    const TensorPieces pieces = open_checkpoint_model(path);  // the row blocks of a sharded job
    out.files = pieces.files().size();
    for (const std::string& name : pieces.names()) {
      TensorEntry t{name, pieces.dtype(name), pieces.shape(name), 0, 0};
      t.end = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype);
      out.tensors.push_back(t);
    }
    return out;
  }
  const SafetensorsCheckpoint ckpt(path);
  out.files = ckpt.shards().size();
  for (const auto& name : ckpt.names()) out.tensors.push_back(ckpt.entry(name));
  return out;
}

void print_json(const Listing& ckpt, const CheckpointSummary& s, bool summary_only) {
  nlohmann::json out = {{"path", ckpt.path}, {"files", ckpt.files}, {"total", count_json(s.total)}};
  for (const auto& [dtype, c] : s.by_dtype) out["dtypes"][dtype] = count_json(c);
  if (s.qwen3_omni)
    for (const auto& [tower, c] : s.by_tower) out["towers"][tower] = count_json(c);
  if (!summary_only) {
    out["tensors"] = nlohmann::json::array();
    for (const TensorEntry& t : ckpt.tensors)
      out["tensors"].push_back(
          {{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"bytes", t.nbytes()}});
  }
  std::cout << out.dump(2) << "\n";
}

void print_text(const Listing& ckpt, const CheckpointSummary& s, bool summary_only) {
  if (!summary_only) {
    size_t width = 0;
    for (const TensorEntry& t : ckpt.tensors) width = std::max(width, t.name.size());
    for (const TensorEntry& t : ckpt.tensors)
      std::cout << std::left << std::setw(static_cast<int>(width) + 2) << t.name << std::setw(9) << dtype_name(t.dtype)
                << shape_text(t.shape) << "\n";
    std::cout << "\n";
  }
  std::cout << ckpt.path << ": " << ckpt.files << " file(s), " << with_commas(s.total.tensors) << " tensors, "
            << with_commas(s.total.parameters) << " parameters, " << human_bytes(s.total.bytes) << "\n";
  for (const auto& [dtype, c] : s.by_dtype)
    std::cout << "  " << std::left << std::setw(9) << dtype << std::right << std::setw(8) << c.tensors << " tensors "
              << std::setw(18) << with_commas(c.parameters) << " parameters\n";
  if (!s.qwen3_omni) return;
  std::cout << "Qwen3-Omni towers:\n";
  for (const auto& tower : qwen3_omni_towers()) {
    auto it = s.by_tower.find(tower);
    if (it == s.by_tower.end()) continue;
    const TensorCount& c = it->second;
    std::cout << "  " << std::left << std::setw(9) << tower << std::right << std::setw(8) << c.tensors << " tensors "
              << std::setw(18) << with_commas(c.parameters) << " parameters " << std::setw(12) << human_bytes(c.bytes)
              << "\n";
  }
}

bool has_weights(const std::filesystem::path& dir) {
  if (std::filesystem::exists(dir / kIndexFileName)) return true;  // its shards must exist: checked when opened
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") return true;
  return false;
}

// A directory with config.json and no weights: build the thinker on the meta device (no memory for
// weights) and count what its Hugging Face checkpoint would hold.
void print_config_summary(const std::string& dir, bool json) {
  ThinkerConfig config = load_thinker_config(dir);
  MetaInit meta;
  Thinker thinker(config);
  std::map<std::string, TensorCount> towers;
  TensorCount total;
  for (const auto& [name, t] : hf_thinker_tensors(*thinker, at::kBFloat16)) {
    TensorEntry entry{name, DType::kBF16, t.sizes().vec(), 0, static_cast<uint64_t>(t.numel()) * 2};
    towers[qwen3_omni_tower(name)].add(entry);
    total.add(entry);
  }
  if (json) {
    nlohmann::json out = {{"path", dir}, {"from_config", true}, {"total", count_json(total)}};
    for (const auto& [tower, c] : towers) out["towers"][tower] = count_json(c);
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::cout << dir << ": no weights; the thinker built from config.json (meta device, nothing allocated) has "
            << with_commas(total.parameters) << " parameters in " << with_commas(total.tensors)
            << " checkpoint tensors (" << human_bytes(total.bytes) << " in bf16)\n";
  for (const auto& tower : qwen3_omni_towers()) {
    auto it = towers.find(tower);
    if (it == towers.end()) continue;
    std::cout << "  " << std::left << std::setw(9) << tower << std::right << std::setw(8) << it->second.tensors
              << " tensors " << std::setw(18) << with_commas(it->second.parameters) << " parameters\n";
  }
}

// The adapters a model.json's `lora` section puts on the model of `dir`'s config.json (built on the meta device):
// what trains and what a checkpoint of the run holds.
void print_lora_summary(const std::string& dir, const std::string& mm_model, bool json) {
  const ModelConfig model = load_model_config(mm_model);
  if (!model.lora.enabled) throw Error(cat(mm_model, ": no `lora` section (or enable: false): nothing to inspect"));
  ThinkerConfig config = load_thinker_config(dir);
  MetaInit meta;
  Thinker thinker(config);
  const LoraSpec spec = attach_lora(*thinker, model.lora);
  uint64_t all = 0, adapters = 0, saved = 0;
  for (const auto& item : thinker->named_parameters(true)) {
    const auto n = static_cast<uint64_t>(item.value().numel());
    all += n;
    if (is_lora_parameter(item.key()))
      adapters += n;
    else if (under_module(item.key(), spec.modules_to_save))
      saved += n;
  }
  const uint64_t base = all - adapters, trainable = adapters + saved;
  if (json) {
    std::cout << nlohmann::json{{"path", dir},
                                {"rank", spec.rank},
                                {"alpha", spec.alpha},
                                {"linear_layers", spec.modules.size()},
                                {"expert_tensors", spec.parameters.size()},
                                {"modules_to_save", spec.modules_to_save},
                                {"base_parameters", base},
                                {"adapter_parameters", adapters},
                                {"modules_to_save_parameters", saved},
                                {"checkpoint_model_bytes", trainable * 4},
                                {"checkpoint_optimizer_bytes", trainable * 8},
                                {"peft_adapter_bytes", trainable * 4}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << dir << " + " << mm_model << ": LoRA rank " << spec.rank << ", alpha " << spec.alpha << " on "
            << spec.modules.size() << " linear layers and " << spec.parameters.size() << " expert tensors"
            << (spec.modules_to_save.empty() ? "" : cat(", ", spec.modules_to_save.size(), " module(s) trained whole"))
            << "\n  trainable parameters: " << with_commas(trainable) << " (adapters " << with_commas(adapters)
            << ", modules_to_save " << with_commas(saved) << "), " << std::setprecision(3)
            << 100.0 * static_cast<double>(trainable) / static_cast<double>(base) << "% of the " << with_commas(base)
            << "-parameter thinker, which stays frozen\n"
            << "  each checkpoint: " << human_bytes(trainable * 4) << " of model tensors (fp32) + "
            << human_bytes(trainable * 8)
            << " of AdamW state; the PEFT adapter (dcp-to-peft): " << human_bytes(trainable * 4) << "\n";
}

}  // namespace

Subcommand register_inspect(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* sub = app.add_subcommand("inspect",
                                     "List the tensors of a safetensors file or checkpoint directory, with totals "
                                     "and, for Qwen3-Omni, parameters per tower (nothing is loaded into memory); "
                                     "for a directory with only config.json, the counts of the model it describes");
  sub->add_option("path", options->path,
                  "A .safetensors file or a directory (sharded with model.safetensors.index.json, or the row "
                  "blocks of a sharded training job)")
      ->required();
  sub->add_flag("--json", options->json, "Print JSON instead of a table");
  sub->add_flag("--summary", options->summary_only, "Print only the totals, not every tensor");
  sub->add_option("--mm-model", options->mm_model,
                  "A model.json with a `lora` section: the adapters it puts on the model of <path>'s config.json, "
                  "their trainable parameters and the size of a checkpoint (a dry run: nothing is allocated)");
  return {sub, [options] {
            if (!options->mm_model.empty()) {
              print_lora_summary(options->path, options->mm_model, options->json);
              return 0;
            }
            if (std::filesystem::is_directory(options->path) && !has_weights(options->path) &&
                std::filesystem::exists(std::filesystem::path(options->path) / "config.json")) {
              print_config_summary(options->path, options->json);
              return 0;
            }
            const Listing ckpt = list_checkpoint(options->path);
            CheckpointSummary s = summarize(ckpt.tensors);
            if (options->json)
              print_json(ckpt, s, options->summary_only);
            else
              print_text(ckpt, s, options->summary_only);
            return 0;
          }};
}

}  // namespace omnitune
