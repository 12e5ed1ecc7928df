#include "omnitune/train/train_checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "omnitune/core/config_file.h"
#include "omnitune/core/config_reader.h"
#include "omnitune/core/error.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/io/safetensors_file.h"
#include "omnitune/io/tensor_pieces.h"
#include "omnitune/weights/checkpoint_layout.h"
#include "omnitune/weights/checkpoint_model.h"
#include "omnitune/weights/peft_adapter.h"

namespace omnitune {

namespace {

constexpr const char* kState = "trainer_state.json";
constexpr const char* kOptimizer = "optimizer.safetensors";
constexpr const char* kRng = "rng.safetensors";

at::Generator cpu_generator() { return at::detail::getDefaultCPUGenerator(); }

std::string optimizer_part_name(size_t part, size_t parts) { return part_file_name("optimizer", part, parts); }

// N ranks write the model in at least N shards (each at most 4 GiB), so that each writes a part.
uint64_t shard_bytes(const NamedTensors& params, size_t writers) {
  uint64_t total = 0;
  for (const auto& [name, t] : params) total += static_cast<uint64_t>(t.numel()) * 4;  // saved as fp32
  return std::min<uint64_t>(4ull << 30, std::max<uint64_t>(1, (total + writers - 1) / writers));
}

// The optimizer state: optimizer.safetensors, or the parts a job of several ranks wrote (all of them).
std::vector<std::string> optimizer_files(const std::string& dir) {
  if (std::filesystem::exists(dir + "/" + kOptimizer)) return {dir + "/" + kOptimizer};
  return part_files(dir, "optimizer");
}

// A sharded job's part: this rank's rows of every model tensor and of their AdamW moments.
void save_row_shard(const SaveRequest& r, const MasterWeights::RowShard& part, const std::string& dir) {
  NamedTensors mine;  // a replicated parameter (ignored_modules) is written by part 0 only
  std::vector<int64_t> first_rows;
  std::map<std::string, int64_t> first_row_of;
  for (size_t i = 0; i < r.masters->all().size(); ++i) {
    if (!r.masters->writes(i) || (r.adapter.holds && !r.adapter.holds(r.masters->all()[i].first))) continue;
    mine.push_back(r.masters->all()[i]);
    first_rows.push_back(r.masters->first_row(i));
    first_row_of[mine.back().first] = first_rows.back();
  }
  save_checkpoint_rows(mine, first_rows, dir, r.hf_config_json, "training", part.part, part.parts);
  if (!r.optimizer) return;
  NamedTensors state;
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> offsets;
  for (const auto& [name, t] : r.optimizer->state()) {
    auto first = first_row_of.find(AdamW::param_of(name));
    if ((t.dim() > 0 && t.size(0) == 0) || first == first_row_of.end()) continue;
    std::vector<int64_t> at(static_cast<size_t>(t.dim()), 0);
    if (t.dim() > 0) at[0] = first->second;
    state.emplace_back(name, t);
    names.push_back(name);
    offsets.push_back(at);
  }
  save_tensors(cat(dir, "/", optimizer_part_name(static_cast<size_t>(part.part), static_cast<size_t>(part.parts))),
               state,
               {{"steps", std::to_string(r.optimizer->steps())}, {kShardingInfoKey, sharding_info(names, offsets)}});
}

}  // namespace

std::string save_training_checkpoint(const SaveRequest& r, const TrainProgress& p, DataParallel& dp) {
  const std::string name = iteration_dir_name(p.iteration);
  std::optional<CheckpointStaging> staging;
  if (dp.writes()) staging.emplace(r.root, name);
  const std::string dir = dp.from_rank0(staging ? staging->dir() : "", "the checkpoint directory");
  const auto writer = static_cast<size_t>(dp.rank()), writers = static_cast<size_t>(dp.size());
  if (const auto rows = r.masters->row_shard()) {
    if (rows->writes) save_row_shard(r, *rows, dir);
  } else {
    NamedTensors params;
    for (const auto& item : r.masters->all())
      if (!r.adapter.holds || r.adapter.holds(item.first)) params.push_back(item);
    save_checkpoint_model(params, dir, r.hf_config_json, "training", shard_bytes(params, writers), {writer, writers});
  }
  if (r.optimizer && !r.masters->row_shard()) {
    const std::map<std::string, std::string> steps = {{"steps", std::to_string(r.optimizer->steps())}};
    if (writers == 1) {
      save_tensors(dir + "/" + kOptimizer, r.optimizer->state(), steps);
    } else {
      NamedTensors mine;  // its own state, or (replicas) tensor i by rank i % writers
      const NamedTensors state = r.optimizer->state();
      for (size_t i = r.optimizer_sharded ? 0 : writer; i < state.size(); i += r.optimizer_sharded ? 1 : writers)
        mine.push_back(state[i]);
      save_tensors(cat(dir, "/", optimizer_part_name(writer, writers)), mine, steps);
    }
  }
  dp.barrier("writing the checkpoint");
  if (!staging) return r.root + "/" + name;
  if (r.save_rng) {
    NamedTensors rng = {{"cpu", cpu_generator().get_state()}};
    save_tensors(dir + "/" + kRng, rng);
  }
  nlohmann::json state = {
      {"iteration", p.iteration},
      {"consumed_samples", p.consumed_samples},
      {"sampler", {{"epoch", p.sampler.epoch}, {"position", p.sampler.position}, {"ranks", p.sampler_ranks}}},
      {"loader",
       {{"samples", p.counters.samples},
        {"skipped_bad", p.counters.skipped_bad},
        {"skipped_overlong", p.counters.skipped_overlong},
        {"cut", p.counters.cut}}},
      {"has_optimizer", r.optimizer != nullptr},
      {"has_rng", r.save_rng},
      {"config", r.resolved_config},
  };
  write_file_atomic(dir + "/" + kState, state.dump(2) + "\n");
  if (!r.adapter.config_json.empty()) write_file_atomic(dir + "/" + kCheckpointAdapterConfig, r.adapter.config_json);
  staging->commit(std::to_string(p.iteration));
  return r.root + "/" + name;
}

nlohmann::json checkpoint_run_config(const std::string& dir) {
  const std::string path = dir + "/" + kState;
  if (!std::filesystem::exists(path)) return nullptr;
  nlohmann::json state = load_json_file(path);
  return state.is_object() && state.contains("config") ? state["config"] : nlohmann::json();
}

LoadedState load_training_state(const std::string& dir, bool optimizer, bool rng) {
  const std::string state_path = dir + "/" + kState;
  if (!std::filesystem::exists(state_path))
    throw Error(cat(dir, ": no ", kState, " (a weights-only checkpoint? load it as it is, it starts at iteration 0)"));
  const nlohmann::json s = load_json_file(state_path);
  ConfigReader state(s, state_path);
  LoadedState out;
  out.progress.iteration = state.required<int64_t>("iteration", at_least(0));
  out.progress.consumed_samples = state.required<int64_t>("consumed_samples", at_least(0));
  ConfigReader sampler = state.object("sampler");
  out.progress.sampler.epoch = sampler.required<int64_t>("epoch", at_least(0));
  out.progress.sampler.position = sampler.required<int64_t>("position", at_least(0));
  out.progress.sampler_ranks = sampler.get<int64_t>("ranks", 1, at_least(1));
  ConfigReader loader = state.object("loader");
  out.progress.counters.samples = loader.required<int64_t>("samples", at_least(0));
  out.progress.counters.skipped_bad = loader.required<int64_t>("skipped_bad", at_least(0));
  out.progress.counters.skipped_overlong = loader.required<int64_t>("skipped_overlong", at_least(0));
  out.progress.counters.cut = loader.get<int64_t>("cut", 0, at_least(0));
  if (optimizer) {
    const std::vector<std::string> paths = optimizer_files(dir);
    if (paths.empty())
      throw Error(cat(dir,
                      ": the checkpoint has no optimizer state (saved with --no-save-optim); pass --no-load-optim "
                      "to continue with a fresh optimizer"));
    out.optimizer = std::make_shared<TensorPieces>(paths);
    for (const auto& file : out.optimizer->files()) {
      const std::string& path = file->path();
      auto steps = file->metadata().find("steps");
      if (steps == file->metadata().end()) throw Error(cat(path, ": metadata 'steps' is missing"));
      const std::string& text = steps->second;
      if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
        throw Error(cat(path, ": metadata 'steps' = '", text, "' is not a step count"));
      if (path != paths.front() && std::stoll(text) != out.optimizer_steps)
        throw Error(cat(path, ": metadata 'steps' = ", text, " differs from the other parts' ", out.optimizer_steps));
      out.optimizer_steps = std::stoll(text);
    }
  }
  if (rng) {
    const std::string path = dir + "/" + kRng;
    if (!std::filesystem::exists(path))
      throw Error(cat(dir, ": the checkpoint has no RNG state (saved with --no-save-rng); pass --no-load-rng"));
    SafetensorsFile file(path);
    const TensorEntry* cpu = file.find("cpu");
    if (!cpu) throw Error(cat(path, ": no 'cpu' generator state"));
    cpu_generator().set_state(read_tensor(file, *cpu).clone());
  }
  return out;
}

NamedTensors optimizer_state_rows(const TensorPieces& state, const std::map<std::string, RowRange>& rows) {
  NamedTensors out;
  for (const std::string& name : state.names()) {
    auto it = rows.find(AdamW::param_of(name));
    const bool cut = it != rows.end() && !state.shape(name).empty();
    out.emplace_back(name, cut ? state.read(name, it->second.first, it->second.count) : state.read(name));
  }
  return out;
}

}  // namespace omnitune
