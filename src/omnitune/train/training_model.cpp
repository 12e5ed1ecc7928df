#include "omnitune/train/training_model.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/model/hf_checkpoint.h"
#include "omnitune/model/model_memory.h"
#include "omnitune/train/freeze.h"
#include "omnitune/weights/checkpoint_model.h"

namespace omnitune {

TrainingModel build_training_model(const RunConfig& c) {
  const TrainOptions& o = c.options;
  const ModelSource& source = c.source;
  at::manual_seed(static_cast<uint64_t>(o.seed));
  check_thinker_fits_in_memory(c.thinker, source.config_dir + "/config.json");
  TrainingModel m;
  m.thinker = Thinker(c.thinker, c.run);
  if (source.random_init) {
    log_warn(
        cat("--init-model-with-meta-device without --load: training starts from random weights (seed ", o.seed, ")"));
    init_thinker_weights(*m.thinker, static_cast<uint64_t>(o.seed));
  } else if (!source.hf_weights.empty()) {
    LoadReport r = load_hf_thinker(*m.thinker, source.hf_weights);
    log_info(cat("loaded ", r.loaded, " tensors from ", source.hf_weights, " (Hugging Face)"));
  } else {
    load_checkpoint_model(*m.thinker, source.checkpoint->dir, c.hf_config_json);
    log_info(cat("loaded the model of ", source.checkpoint->dir));
    if (!source.checkpoint->release)
      m.resumed = load_training_state(source.checkpoint->dir, !o.no_load_optim, !o.no_load_rng);
  }
  m.thinker->to(c.device);

  const std::set<std::string> frozen = frozen_parameters(*m.thinker, c.model);
  m.masters.emplace(*m.thinker, c.compute, frozen);
  if (m.masters->trainable().empty()) throw Error(cat(o.mm_model, ": every parameter is frozen; nothing to train"));
  const AdamWOptions adam{o.adam_beta1, o.adam_beta2, o.adam_eps, o.weight_decay};
  if (o.distributed_optimizer && c.dp_size > 1) {
    m.shard.emplace(m.masters->trainable(), c.dp_rank, c.dp_size);
    m.optimizer.emplace(m.shard->pick(m.masters->trainable()), adam);
    log_info(cat("distributed optimizer: the AdamW state of ", m.shard->owned().size(), " of ",
                 m.masters->trainable().size(), " trainable tensors lives on this rank (each rank owns its share)"));
  } else {
    m.optimizer.emplace(m.masters->trainable(), adam);
  }
  if (m.resumed && m.resumed->optimizer)
    m.optimizer->load_state(m.shard ? m.shard->owned_state(*m.resumed->optimizer) : *m.resumed->optimizer,
                            m.resumed->optimizer_steps, source.checkpoint->dir);
  log_info(cat("model: ", m.masters->all().size(), " tensors, ", m.masters->trainable_numel(),
               " trainable parameters (", frozen.size(), " tensors frozen); compute ", c10::toString(c.compute), " on ",
               c.device.str(), "; fp32 master weights"));
  return m;
}

}  // namespace omnitune
