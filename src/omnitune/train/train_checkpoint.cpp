#include "omnitune/train/train_checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <filesystem>

#include "omnitune/core/config_file.h"
#include "omnitune/core/config_reader.h"
#include "omnitune/core/error.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/io/safetensors_file.h"
#include "omnitune/weights/checkpoint_layout.h"
#include "omnitune/weights/checkpoint_model.h"

namespace omnitune {

namespace {

constexpr const char* kState = "trainer_state.json";
constexpr const char* kOptimizer = "optimizer.safetensors";
constexpr const char* kRng = "rng.safetensors";

at::Generator cpu_generator() { return at::detail::getDefaultCPUGenerator(); }

}  // namespace

std::string save_training_checkpoint(const SaveRequest& r, const TrainProgress& p) {
  const std::string name = iteration_dir_name(p.iteration);
  CheckpointStaging staging(r.root, name);
  const std::string& dir = staging.dir();
  save_checkpoint_model(r.masters->all(), dir, r.hf_config_json, "training");
  if (r.optimizer)
    save_tensors(dir + "/" + kOptimizer, r.optimizer->state(), {{"steps", std::to_string(r.optimizer->steps())}});
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
  staging.commit(std::to_string(p.iteration));
  return r.root + "/" + name;
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
    const std::string path = dir + "/" + kOptimizer;
    if (!std::filesystem::exists(path))
      throw Error(cat(dir,
                      ": the checkpoint has no optimizer state (saved with --no-save-optim); pass --no-load-optim "
                      "to continue with a fresh optimizer"));
    SafetensorsFile file(path);
    NamedTensors tensors;
    for (const auto& e : file.tensors()) tensors.emplace_back(e.name, read_tensor(file, e).clone());
    auto steps = file.metadata().find("steps");
    if (steps == file.metadata().end()) throw Error(cat(path, ": metadata 'steps' is missing"));
    const std::string& text = steps->second;
    if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
      throw Error(cat(path, ": metadata 'steps' = '", text, "' is not a step count"));
    out.optimizer_steps = std::stoll(text);
    out.optimizer = std::move(tensors);
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

}  // namespace omnitune
