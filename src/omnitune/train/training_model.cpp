#include "omnitune/train/training_model.h"

#include <ATen/ATen.h>

#include <map>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/model/hf_checkpoint.h"
#include "omnitune/model/lora.h"
#include "omnitune/model/model_memory.h"
#include "omnitune/train/context_parallel_group.h"
#include "omnitune/train/freeze.h"
#include "omnitune/train/lora_config.h"
#include "omnitune/train/sharded_weights.h"
#include "omnitune/weights/checkpoint_model.h"
#include "omnitune/weights/peft_adapter.h"

namespace omnitune {

namespace {

// The thinker's wrapping units with their parameter-name prefixes; the root first.
std::vector<UnitModule> named_units(ThinkerImpl& thinker) {
  std::map<const torch::nn::Module*, std::string> names;
  for (const auto& item : thinker.named_modules("", /*include_self=*/false)) names[item.value().get()] = item.key();
  std::vector<UnitModule> units = {{"", &thinker}};
  for (torch::nn::Module* m : thinker.wrapping_units()) units.push_back({names.at(m), m});
  return units;
}

// Rows of each parameter for a sharded rank, from wherever the run's weights come from. A whole parameter is
// made only for Hugging Face weights and the random init (one at a time); a checkpoint is read by rows.
ShardRows shard_rows(const RunConfig& c, ThinkerImpl& thinker, std::optional<CheckpointModel>& checkpoint,
                     std::optional<HfThinkerReader>& hf, std::optional<ThinkerInit>& init) {
  const ModelSource& source = c.source;
  auto whole = [](auto& reader) {
    return [&reader](const std::string& name, const at::Tensor& param, int64_t first, at::Tensor& rows) {
      at::Tensor full = at::empty(param.sizes(), rows.options());
      reader.fill(name, full);
      rows.copy_(full.narrow(0, first, rows.size(0)));
    };
  };
  if (source.random_init) {
    init.emplace(thinker, static_cast<uint64_t>(c.options.seed));
    return whole(*init);
  }
  if (!source.hf_weights.empty()) {
    hf.emplace(source.hf_weights);
    return whole(*hf);
  }
  checkpoint.emplace(thinker, source.checkpoint->dir, c.hf_config_json);
  return [&checkpoint](const std::string& name, const at::Tensor&, int64_t first, at::Tensor& rows) {
    checkpoint->read_rows(name, first, rows);
  };
}

// Every rank holds the whole model: loaded into the thinker (LoRA adapters from the checkpoint that has them,
// else fresh), which then moves to the device.
void load_whole(const RunConfig& c, ThinkerImpl& thinker, const std::optional<LoraSpec>& lora) {
  const ModelSource& source = c.source;
  bool adapters_loaded = false;
  if (source.random_init) {
    init_thinker_weights(thinker, static_cast<uint64_t>(c.options.seed));
  } else if (!source.hf_weights.empty()) {
    LoadReport r = load_hf_thinker(thinker, source.hf_weights);
    log_info(cat("loaded ", r.loaded, " tensors from ", source.hf_weights, " (Hugging Face)"));
  } else {
    load_checkpoint_model(thinker, source.checkpoint->dir, c.hf_config_json);
  }
  if (source.adapter) adapters_loaded = load_checkpoint_model(thinker, source.adapter->dir, c.hf_config_json);
  const std::string& pretrained = c.model.lora.pretrained_lora_path;
  if (lora && !adapters_loaded && !pretrained.empty()) {
    read_peft_adapter_values(thinker, *lora, pretrained);
    log_info(cat("LoRA starts from the adapter of ", pretrained));
  } else if (lora && !adapters_loaded) {
    for (auto& item : thinker.named_parameters(true))
      if (is_lora_parameter(item.key()))
        init_lora_parameter(item.key(), item.value(), *lora, static_cast<uint64_t>(c.options.seed));
  }
  thinker.to(c.device);
}

// Attaches the model.json's adapters; logs what they are.
std::optional<LoraSpec> attach_run_lora(const RunConfig& c, ThinkerImpl& thinker) {
  if (!c.model.lora.enabled) return std::nullopt;
  LoraSpec spec = attach_lora(thinker, c.model.lora);
  log_info(cat("LoRA rank ", spec.rank, ", alpha ", spec.alpha, " on ", spec.modules.size(), " linear layers and ",
               spec.parameters.size(), " expert tensors; ", spec.modules_to_save.size(),
               " modules trained whole (modules_to_save); the rest of the model is frozen"));
  return spec;
}

}  // namespace

TrainingModel build_training_model(const RunConfig& c, DataParallel& dp) {
  const TrainOptions& o = c.options;
  const ModelSource& source = c.source;
  at::manual_seed(static_cast<uint64_t>(o.seed));
  if (!c.sharded) check_thinker_fits_in_memory(c.thinker, source.config_dir + "/config.json");
  TrainingModel m;
  m.thinker = Thinker(c.thinker, c.run);
  if (source.random_init)
    log_warn(
        cat("--init-model-with-meta-device without --load: training starts from random weights (seed ", o.seed, ")"));
  m.lora = attach_run_lora(c, *m.thinker);
  const std::optional<LoraSpec>& lora = m.lora;
  std::set<std::string> frozen = frozen_parameters(*m.thinker, c.model);
  if (lora) frozen.merge(lora_frozen_parameters(*m.thinker, *lora));
  if (c.cp_size > 1) {  // before the sharding's groups: every rank forms its groups in the same order
    m.thinker->options.context_parallel = context_parallel_group(*dp.group(), c.cp_size);
    log_info(cat("context parallel (Ulysses): each sequence split over ", c.cp_size, " ranks; ", c.dp_size,
                 " data-parallel group(s)"));
  }
  if (c.sharded) {
    if (lora && !c.model.lora.pretrained_lora_path.empty() && !source.adapter)
      throw Error(c.model.lora.where +
                  ".pretrained_lora_path: starting from a PEFT adapter with parameter sharding "
                  "(FSDP2) is not supported yet; start it on replicated ranks, or shard a run "
                  "that resumes from such a run's checkpoint");
    std::optional<CheckpointModel> checkpoint;
    std::optional<HfThinkerReader> hf;
    std::optional<ThinkerInit> init;
    const ShardRows base_rows = shard_rows(c, *m.thinker, checkpoint, hf, init);
    std::optional<CheckpointModel> adapter;  // a LoRA checkpoint: its adapter and modules_to_save
    if (source.adapter) adapter.emplace(*m.thinker, source.adapter->dir, c.hf_config_json);
    const uint64_t seed = static_cast<uint64_t>(o.seed);
    const ShardRows rows = [&](const std::string& name, const at::Tensor& param, int64_t first, at::Tensor& out) {
      if (adapter && adapter->holds.count(name)) return adapter->read_rows(name, first, out);
      if (!lora || !is_lora_parameter(name)) return base_rows(name, param, first, out);
      at::Tensor full = at::empty(param.sizes(), out.options());
      init_lora_parameter(name, full, *lora, seed);
      out.copy_(full.narrow(0, first, out.size(0)));
    };
    const Fsdp2Config& f = *c.fsdp;
    std::vector<ModulePattern> ignored;
    for (const std::string& text : f.ignored_modules) ignored.emplace_back(text, o.fsdp2_config + ": ignored_modules");
    ShardingOptions options{c.device,
                            c.compute,
                            c.reduce,
                            c.sharding_size,
                            f.reshard_after_forward,
                            f.offload_to_cpu,
                            f.pin_memory,
                            f.num_to_forward_prefetch,
                            f.num_to_backward_prefetch,
                            parameters_under(*m.thinker, ignored, o.fsdp2_config + ": ignored_modules")};
    auto sharded =
        std::make_unique<ShardedWeights>(*m.thinker, named_units(*m.thinker), frozen, *dp.group(), options, rows);
    if (hf) {
      LoadReport r = hf->finish();
      log_info(cat("loaded ", r.loaded, " tensors from ", source.hf_weights, " (Hugging Face), the rows of this rank"));
    }
    log_info(cat("parameters sharded over ", sharded->shard_size(), " ranks: this rank keeps rows of every tensor (",
                 sharded->trainable_numel(), " trainable values here)"));
    m.masters = std::move(sharded);
  } else {
    load_whole(c, *m.thinker, lora);
    m.masters = std::make_unique<MasterWeights>(*m.thinker, c.compute, frozen);
  }
  if (source.checkpoint) log_info(cat("loaded the model of ", source.checkpoint->dir));
  if (source.adapter) log_info(cat("loaded the LoRA adapter of ", source.adapter->dir));
  if (!source.resume_dir().empty())
    m.resumed = load_training_state(source.resume_dir(), !o.no_load_optim, !o.no_load_rng);
  if (m.masters->trainable().empty()) throw Error(cat(o.mm_model, ": every parameter is frozen; nothing to train"));
  const AdamWOptions adam{o.adam_beta1, o.adam_beta2, o.adam_eps, o.weight_decay};
  if (o.distributed_optimizer && c.world > 1 && !c.sharded) {
    m.shard.emplace(m.masters->trainable(), c.rank, c.world);
    m.optimizer.emplace(m.shard->pick(m.masters->trainable()), adam);
    log_info(cat("distributed optimizer: the AdamW state of ", m.shard->owned().size(), " of ",
                 m.masters->trainable().size(), " trainable tensors lives on this rank (each rank owns its share)"));
  } else {
    m.optimizer.emplace(m.masters->trainable(), adam);
  }
  if (m.resumed && m.resumed->optimizer) {
    std::map<std::string, RowRange> rows;  // a sharded rank's rows of each parameter
    if (m.masters->row_shard())
      for (size_t i = 0; i < m.masters->all().size(); ++i) {
        const auto& [name, t] = m.masters->all()[i];
        rows[name] = {m.masters->first_row(i), t.size(0)};
      }
    const NamedTensors state = optimizer_state_rows(*m.resumed->optimizer, rows);
    m.optimizer->load_state(m.shard ? m.shard->owned_state(state) : state, m.resumed->optimizer_steps,
                            source.resume_dir());
  }
  log_info(cat("model: ", m.masters->all().size(), " tensors, ", m.masters->trainable_numel(),
               " trainable parameters (", frozen.size(), " tensors frozen); compute ", c10::toString(c.compute), " on ",
               c.device.str(), "; fp32 master weights"));
  return m;
}

}  // namespace omnitune
