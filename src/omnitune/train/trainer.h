// train/trainer: `omnitune train` — single-process fine-tuning of the thinker on the seed's files:
// build the model from model.json's HF config, load weights (HF directory, training checkpoint or a
// random init), freeze, build the loader from data.json, then per iteration: global batch of GA
// micro-batches -> forward/backward with the configured loss -> grad norm and clipping -> AdamW on the
// fp32 masters with the scheduled LR -> logs/metrics -> checkpoints (interval and final).
#pragma once

#include "omnitune/train/train_options.h"

namespace omnitune {

// Runs the whole training. Throws Error on bad input before anything is written.
void run_training(const TrainOptions& options);

}  // namespace omnitune
