// train/training_model: the model part of a run — the thinker built from the run's config.json, its weights
// (Hugging Face directory, training checkpoint or random init), the frozen set, the fp32 master weights, the
// AdamW state, and what a checkpoint being resumed says about the progress.
#pragma once

#include <memory>
#include <optional>

#include "omnitune/model/lora.h"
#include "omnitune/model/thinker.h"
#include "omnitune/train/adamw.h"
#include "omnitune/train/distributed_optimizer.h"
#include "omnitune/train/master_weights.h"
#include "omnitune/train/run_config.h"
#include "omnitune/train/train_checkpoint.h"

namespace omnitune {

struct TrainingModel {
  Thinker thinker{nullptr};
  std::unique_ptr<MasterWeights> masters;  // replicated, or sharded over the ranks (FSDP2 sharding_size > 1)
  std::optional<AdamW> optimizer;          // over every trainable parameter, or the owned ones with `shard`
  std::optional<OptimizerShard> shard;     // --use-distributed-optimizer on several ranks
  std::optional<LoadedState> resumed;      // progress, optimizer and RNG of the checkpoint resumed from
  std::optional<LoraSpec> lora;            // the adapters model.json's `lora` attached
};

// Builds and loads on config.device. Error when the model would not fit, when every parameter is frozen,
// or when a resumed optimizer state does not match the trainable parameters.
TrainingModel build_training_model(const RunConfig& config, DataParallel& dp);

}  // namespace omnitune
