// cli/inference_model: the thinker that `forward` and `generate` run, from what --model names — a Hugging
// Face directory or a training checkpoint (save root, iter_N or release; a LoRA run's adapter on the base
// its adapter_config.json names) — with an optional PEFT adapter (--adapter) on top, in eval mode.
#pragma once

#include <string>

#include "omnitune/model/thinker.h"

namespace omnitune {

struct InferenceModel {
  Thinker thinker{nullptr};
  std::string dir;                   // the Hugging Face directory or the checkpoint directory found
  bool training_checkpoint = false;  // `dir` is a training checkpoint (trainer_state.json, no tokenizer)
};

// The model's config.json as `dir` holds it (a checkpoint keeps a copy).
ThinkerConfig inference_model_config(const std::string& model);

InferenceModel load_inference_model(const std::string& model, const std::string& adapter, const ThinkerRunOptions& run);

}  // namespace omnitune
