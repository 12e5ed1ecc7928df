// train/run_config: everything a training run is told, read and checked before anything is built or
// written — the flags, model.json, data.json, the FSDP2 yaml and the model's config.json, each file read
// once — and what follows from it: where the weights come from, the device and compute dtype, the thinker's
// run options, the LR schedule and the batch arithmetic.
#pragma once

#include <optional>
#include <string>

#include <ATen/Tensor.h>
#include <nlohmann/json.hpp>

#include "omnitune/data/data_config.h"
#include "omnitune/model/thinker.h"
#include "omnitune/parallel/launch_env.h"
#include "omnitune/train/fsdp2_config.h"
#include "omnitune/train/lr_schedule.h"
#include "omnitune/train/model_config.h"
#include "omnitune/train/train_options.h"
#include "omnitune/weights/checkpoint_layout.h"

namespace omnitune {

// Where the weights come from.
struct ModelSource {
  std::string config_dir;                        // holds the HF config.json of the model
  std::string hf_weights;                        // load these HF weights ("" = none)
  std::optional<CheckpointLocation> checkpoint;  // or this training checkpoint
  bool random_init = false;
  // --load of a LoRA run's checkpoint: it holds the adapter (and the training state); the base above is the
  // one its adapter_config.json names (base_model_name_or_path)
  std::optional<CheckpointLocation> adapter;
  std::string resume_dir() const;  // the training checkpoint whose progress resumes ("" none)
};

struct RunConfig {
  TrainOptions options;
  ModelConfig model;
  DataConfig data;  // cutoff_len from --seq-length when given
  std::optional<Fsdp2Config> fsdp;
  ModelSource source;
  std::string hf_config_json;  // the model's config.json as written (each checkpoint keeps a copy)
  ThinkerConfig thinker;       // parsed from it; the router aux coefficient as model.json decides
  ThinkerRunOptions run;       // attention backends, recompute/offload, loss chunking
  at::Device device = at::kCPU;
  at::ScalarType compute = at::kFloat;  // the FSDP2 yaml's param_dtype; fp32 without one
  at::ScalarType reduce = at::kFloat;   // its reduce_dtype: the gradients summed over the ranks
  LrSchedule schedule;
  int64_t dp_size = 1, dp_rank = 0;  // data-parallel ranks (each reads 1/dp_size of a global batch), this one
  int64_t cp_size = 1;               // context-parallel ranks that share each sample (world = dp_size x cp_size)
  int64_t world = 1, rank = 0;       // the job's ranks, this one
  int64_t sharding_size = 1;         // ranks a parameter is sharded over (FSDP2)
  bool sharded = false;              // FSDP2 parameter sharding: sharding_size > 1, or `auto` in a job of one rank
  int64_t grad_accumulation = 1, global_batch = 1;  // micro-batches a rank a step; samples a step
  nlohmann::json resolved;                          // the flags and the three files as read, for trainer_state.json
};

// Whether this process joins a job through c10d: several ranks, or one rank that a launcher started with
// --distributed-backend given (the distributed code on one device: the backend's check). Error for
// --distributed-backend on a process no launcher started.
bool joins_job(const TrainOptions& options, const LaunchEnv& launch);

// Error naming the file, key or flag on anything wrong; logs once what is accepted but ignored. `launch`:
// the job this rank belongs to (its size divides the global batch; a GPU rank binds cuda:local_rank).
RunConfig read_run_config(const TrainOptions& options, const LaunchEnv& launch);

// --device auto|cpu|cuda; a GPU rank binds cuda:LOCAL_RANK (auto: the CPU when no GPU is available).
at::Device pick_device(const std::string& device, int64_t local_rank);

// --save holds one series of checkpoints: a run that does not resume from one of them must not add to it.
void check_save_series(const std::string& save, const ModelSource& source);

}  // namespace omnitune
