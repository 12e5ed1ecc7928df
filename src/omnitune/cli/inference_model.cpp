#include "omnitune/cli/inference_model.h"

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/model/hf_checkpoint.h"
#include "omnitune/model/model_memory.h"
#include "omnitune/weights/checkpoint_layout.h"
#include "omnitune/weights/checkpoint_model.h"
#include "omnitune/weights/peft_adapter.h"

namespace omnitune {

namespace {

// Hugging Face weights or a training checkpoint (save root, iter_N or release) into `thinker`.
void load_weights(ThinkerImpl& thinker, const std::string& path) {
  if (is_training_checkpoint(path)) {
    const std::string dir = locate_checkpoint(path).dir;
    load_checkpoint_model(thinker, dir, checkpoint_config_text(dir));
    return;
  }
  LoadReport report = load_hf_thinker(thinker, path);
  log_debug(cat("loaded ", report.loaded, " tensors, ignored ", report.ignored_talker, " talker/code2wav tensors"));
}

}  // namespace

InferenceModel locate_inference_model(const std::string& model) {
  InferenceModel out;
  out.training_checkpoint = is_training_checkpoint(model);
  out.dir = out.training_checkpoint ? locate_checkpoint(model).dir : model;
  out.config = load_thinker_config(out.dir);
  return out;
}

void load_inference_model(InferenceModel& out, const std::string& adapter, const ThinkerRunOptions& run) {
  check_thinker_fits_in_memory(out.config, out.dir + "/config.json");
  out.thinker = Thinker(out.config, run);
  // A LoRA run's checkpoint holds the adapter; the base is the model its adapter_config.json names.
  const std::string base = out.training_checkpoint ? adapter_base(out.dir) : "";
  if (!base.empty())
    add_lora(*out.thinker, read_peft_adapter_config(*out.thinker, out.dir + "/" + kCheckpointAdapterConfig),
             out.dir + "/" + kCheckpointAdapterConfig);
  load_weights(*out.thinker, base.empty() ? out.dir : base);
  if (!base.empty()) load_checkpoint_model(*out.thinker, out.dir, checkpoint_config_text(out.dir));
  if (!adapter.empty()) load_peft_adapter(*out.thinker, adapter);
  out.thinker->eval();  // no LoRA dropout
}

}  // namespace omnitune
