// cli/inference_model: the thinker that `forward` and `generate` run, from what --model names — a Hugging
// Face directory or a training checkpoint (save root, iter_N or release; a LoRA run's adapter on the base
// its adapter_config.json names) — with an optional PEFT adapter (--adapter) on top, in eval mode.
#pragma once

#include <string>

#include "omnitune/model/thinker.h"

namespace omnitune {

struct InferenceModel {
  std::string dir;                   // the Hugging Face directory or the checkpoint directory found
  bool training_checkpoint = false;  // `dir` is a training checkpoint (trainer_state.json, no tokenizer)
  ThinkerConfig config;              // its config.json (a checkpoint keeps a copy)
  Thinker thinker{nullptr};          // set by load_inference_model
};

// Finds what --model names and reads its config; loads no weights (cheap: requests are checked before the load).
InferenceModel locate_inference_model(const std::string& model);

// The thinker of `located`, its weights loaded, `adapter` (a PEFT directory, or "") on top.
void load_inference_model(InferenceModel& located, const std::string& adapter, const ThinkerRunOptions& run);

}  // namespace omnitune
