// train/train_checkpoint: what a training checkpoint holds besides the model (weights/ writes the
// model part and owns the directory layout):
//   optimizer.safetensors  AdamW moments by parameter name; metadata: the step count (written by a job of N
//                          ranks as optimizer-%05d-of-%05d.safetensors, one part a rank, like the model shards;
//                          with parameter sharding each part holds its rows, placed by DCP_SHARDING_INFO)
//   trainer_state.json     iteration, consumed samples, sampler position, loader counters, the resolved
//                          configuration of the run (arguments, model.json, data.json, FSDP2 yaml)
//   rng.safetensors        the CPU (and CUDA) generator states
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "omnitune/data/loader.h"
#include "omnitune/io/tensor_pieces.h"
#include "omnitune/train/adamw.h"
#include "omnitune/train/data_parallel.h"
#include "omnitune/train/master_weights.h"

namespace omnitune {

struct TrainProgress {
  int64_t iteration = 0;  // optimizer steps done
  int64_t consumed_samples = 0;
  SamplerState sampler;
  int64_t sampler_ranks = 1;  // the data-parallel size whose micro-batches sampler.position counts
  LoaderCounters counters;
};

// A LoRA run's checkpoints hold its adapter: adapter_config.json (naming the base) and these parameters.
struct AdapterSave {
  std::string config_json;                        // "" without LoRA
  std::function<bool(const std::string&)> holds;  // the adapter factors and modules_to_save
};

struct SaveRequest {
  std::string root;  // --save
  const MasterWeights* masters = nullptr;
  const AdamW* optimizer = nullptr;  // null: --no-save-optim
  bool optimizer_sharded = false;    // each rank's AdamW holds its own parameters (--use-distributed-optimizer)
  bool save_rng = true;
  std::string hf_config_json;
  nlohmann::json resolved_config;
  AdapterSave adapter;
};

// Writes <root>/iter_%07d atomically, then the tracker. Returns the directory written. On a job of several
// ranks every rank calls it: each writes its share of the model shards and of the optimizer state (in
// parallel), rank 0 the rest, and renames the directory once all are done.
std::string save_training_checkpoint(const SaveRequest& request, const TrainProgress& progress, DataParallel& dp);

struct LoadedState {
  TrainProgress progress;
  std::shared_ptr<TensorPieces> optimizer;  // the AdamW state as stored (whole or in blocks of rows)
  int64_t optimizer_steps = 0;
};

// Reads trainer_state.json (and optimizer.safetensors when `optimizer`; rng.safetensors applied to the
// generators when `rng`). Errors name the file and what is missing.
LoadedState load_training_state(const std::string& dir, bool optimizer, bool rng);

// The configuration a checkpoint's run was resolved to (trainer_state.json's "config": arguments, model_json,
// data_json, fsdp2_yaml); null when the directory has no trainer_state.json.
nlohmann::json checkpoint_run_config(const std::string& dir);

// Every entry of a loaded optimizer state; for the parameters in `rows` only those rows of their moments
// (a sharded rank's), the others whole.
struct RowRange {
  int64_t first = 0, count = 0;
};
NamedTensors optimizer_state_rows(const TensorPieces& state, const std::map<std::string, RowRange>& rows = {});

}  // namespace omnitune
