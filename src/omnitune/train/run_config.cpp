#include "omnitune/train/run_config.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <filesystem>

#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/core/log.h"
#include "omnitune/weights/peft_adapter.h"

namespace fs = std::filesystem;

namespace omnitune {

namespace {

at::ScalarType dtype_of(Precision p) {
  switch (p) {
    case Precision::kFloat32: return at::kFloat;
    case Precision::kBFloat16: return at::kBFloat16;
    case Precision::kFloat16: return at::kHalf;
  }
  return at::kFloat;
}

// A weights directory: Hugging Face weights, or a training checkpoint.
void set_weights(ModelSource& s, const std::string& path) {
  if (is_hf_model_dir(path))
    s.hf_weights = path;
  else
    s.checkpoint = locate_checkpoint(path);
}

ModelSource resolve_source(const TrainOptions& o, const ModelConfig& m) {
  ModelSource s;
  if (!o.load.empty()) {
    if (!fs::exists(o.load)) throw Error(cat("--load ", o.load, ": no such file or directory"));
    set_weights(s, o.load);
    if (s.checkpoint && !adapter_base(s.checkpoint->dir).empty()) {
      s.adapter = s.checkpoint;
      s.checkpoint.reset();
      const std::string base = adapter_base(s.adapter->dir);
      if (!fs::exists(base))
        throw Error(cat("--load ", o.load, ": the LoRA adapter's base model ", base,
                        " (base_model_name_or_path of its adapter_config.json) does not exist"));
      set_weights(s, base);
    }
  }
  s.config_dir = m.init_from_hf_path;
  if (s.config_dir.empty())
    s.config_dir = !s.hf_weights.empty() ? s.hf_weights : (s.checkpoint ? s.checkpoint->dir : "");
  if (s.config_dir.empty())
    throw Error(
        cat(m.path, ": init_from_hf_path is empty and --load gives no model: nothing says which model to train"));
  if (!fs::exists(fs::path(s.config_dir) / "config.json"))
    throw Error(cat(m.path, ": init_from_hf_path ", s.config_dir, " has no config.json"));
  if (o.load.empty()) {
    if (o.init_model_with_meta_device) {
      s.random_init = true;
    } else {
      if (!is_hf_model_dir(s.config_dir))
        throw Error(cat(s.config_dir,
                        ": no model weights (model.safetensors or its index) to start from; pass --load, or "
                        "--init-model-with-meta-device to train from a random initialisation"));
      s.hf_weights = s.config_dir;
    }
  }
  return s;
}

// The --lora-* flags over model.json's `lora` section.
void apply_lora_flags(const TrainOptions& o, LoraSettings& s) {
  const bool any = o.lora_rank || o.lora_alpha || o.lora_dropout || !o.lora_target_modules.empty() ||
                   !o.lora_target_parameters.empty() || !o.lora_modules_to_save.empty();
  if (!any) return;
  if (s.enabled && !s.pretrained_lora_path.empty())
    throw Error(s.where +
                ".pretrained_lora_path: the adapter's adapter_config.json sets rank, alpha, dropout and "
                "targets; the --lora-* flags cannot change them");
  if (!s.enabled) s = LoraSettings{}, s.where = "--lora-*";
  s.enabled = true;
  if (o.lora_rank) s.hyper.rank = *o.lora_rank;
  if (o.lora_alpha) s.hyper.alpha = *o.lora_alpha;
  if (o.lora_dropout) s.hyper.dropout = *o.lora_dropout;
  if (!o.lora_target_modules.empty()) s.target_modules = o.lora_target_modules;
  if (!o.lora_target_parameters.empty()) s.target_parameters = o.lora_target_parameters;
  if (!o.lora_modules_to_save.empty()) s.modules_to_save = o.lora_modules_to_save;
}

}  // namespace

std::string ModelSource::resume_dir() const {
  if (adapter) return adapter->dir;
  return checkpoint && !checkpoint->release ? checkpoint->dir : "";
}

namespace {

int64_t chunk_rows(const LossConfig& loss, int64_t micro_batch) {
  switch (loss.compute_mode) {
    case LossComputeMode::kDefault: return 0;
    case LossComputeMode::kChunk: return loss.chunk_size * micro_batch;
    case LossComputeMode::kDynamicChunk: {
      int64_t per_sample = loss.chunk_size / micro_batch, chunk = 1;
      while (chunk * 2 <= per_sample) chunk *= 2;
      return chunk * micro_batch;
    }
  }
  return 0;
}

nlohmann::json options_json(const TrainOptions& o) {
  return {
      {"mm_data", o.mm_data},
      {"mm_model", o.mm_model},
      {"fsdp2_config", o.fsdp2_config},
      {"micro_batch_size", o.micro_batch_size},
      {"global_batch_size", o.global_batch_size ? nlohmann::json(*o.global_batch_size) : nlohmann::json(nullptr)},
      {"seq_length", o.seq_length ? nlohmann::json(*o.seq_length) : nlohmann::json(nullptr)},
      {"lr", o.lr.value_or(0)},
      {"min_lr", o.min_lr},
      {"lr_decay_style", o.lr_decay_style},
      {"lr_warmup_fraction", o.lr_warmup_fraction ? nlohmann::json(*o.lr_warmup_fraction) : nlohmann::json(nullptr)},
      {"lr_warmup_iters", o.lr_warmup_iters},
      {"lr_decay_iters", o.lr_decay_iters.value_or(o.train_iters)},
      {"weight_decay", o.weight_decay},
      {"adam_beta1", o.adam_beta1},
      {"adam_beta2", o.adam_beta2},
      {"adam_eps", o.adam_eps},
      {"clip_grad", o.clip_grad},
      {"train_iters", o.train_iters},
      {"seed", o.seed},
      {"load", o.load},
      {"save", o.save},
      {"save_interval", o.save_interval},
      {"log_interval", o.log_interval},
      {"no_load_optim", o.no_load_optim},
      {"no_load_rng", o.no_load_rng},
      {"no_save_optim", o.no_save_optim},
      {"no_save_rng", o.no_save_rng},
      {"init_model_with_meta_device", o.init_model_with_meta_device},
      {"device", o.device},
      {"use_distributed_optimizer", o.distributed_optimizer}};
}

LrSchedule make_schedule(const TrainOptions& o) {
  LrSchedule s;
  if (!o.lr) throw Error("--lr is required");
  s.lr = *o.lr;
  s.min_lr = o.min_lr;
  s.style = parse_lr_decay_style(o.lr_decay_style);
  s.decay_steps = o.lr_decay_iters.value_or(o.train_iters);
  if (o.lr_warmup_fraction && o.lr_warmup_iters > 0)
    throw Error("--lr-warmup-fraction and --lr-warmup-iters are exclusive");
  s.warmup_steps = o.lr_warmup_fraction ? *o.lr_warmup_fraction * static_cast<double>(s.decay_steps)
                                        : static_cast<double>(o.lr_warmup_iters);
  s.validate();
  return s;
}

// Rules between flags (each flag's own range is checked where the command line is read).
void validate(const TrainOptions& o, int64_t dp_size) {
  const int64_t per_step = o.micro_batch_size * dp_size;
  const int64_t gbs = o.global_batch_size.value_or(per_step);
  if (gbs < per_step || gbs % per_step != 0)
    throw Error(cat("--global-batch-size ", gbs, " is not a multiple of --micro-batch-size ", o.micro_batch_size,
                    " x data-parallel size ", dp_size, dp_size == 1 ? " (one process)" : " (the ranks of the job)"));
  if (gbs > INT64_MAX / o.train_iters)
    throw Error(
        cat("--train-iters ", o.train_iters, " x --global-batch-size ", gbs, " samples do not fit a 64-bit count"));
  if (o.save_interval > 0 && o.save.empty()) throw Error("--save-interval needs --save");
}

// The ranks a parameter is sharded over, from the FSDP2 yaml: `auto` = all of them, N < world = HSDP; nullopt =
// not sharded (one process, or 1), except that `auto` in a job of one rank shards over that rank.
std::optional<int64_t> sharding_size_for_job(const Fsdp2Config& f, const std::string& path, int64_t world, int64_t cp,
                                             bool in_job) {
  if (f.output_dtype)
    throw Error(cat(path, ": output_dtype is not supported yet (each unit's outputs stay in param_dtype); remove it"));
  if (!f.cast_forward_inputs)
    throw Error(
        cat(path, ": cast_forward_inputs: false is not supported yet (floating inputs are cast to param_dtype)"));
  const int64_t shard = f.sharding_size.value_or(world);
  if (!in_job || (shard == 1 && f.sharding_size)) {
    if (f.offload_to_cpu)
      throw Error(cat(path,
                      ": offload_to_cpu needs parameter sharding (sharding_size auto or > 1 on several ranks); "
                      "without it there is nothing to offload in this build"));
    return std::nullopt;
  }
  if (shard < 1 || world % shard != 0)
    throw Error(cat(path, ": sharding_size ", shard, " does not divide the ", world,
                    " ranks of the job (each shard group must be whole; `auto` shards over all of them)"));
  if (shard % cp != 0)
    throw Error(cat(path, ": sharding_size ", shard, " is not a multiple of --context-parallel-size ", cp,
                    " (the ranks that share a sequence shard the parameters together)"));
  return shard;
}

void log_ignored(const RunConfig& c) {
  const TrainOptions& o = c.options;
  for (const auto& flag : o.ignored_flags) log_info(cat("ignored (no meaning in OmniTune): ", flag));
  for (const auto& key : c.model.ignored)
    log_info(cat("ignored: ", o.mm_model, " ", key, " (the architecture comes from config.json)"));
  for (const auto& key : c.data.ignored) log_info(cat("ignored: ", o.mm_data, " ", key));
  if (!c.fsdp) return;
  for (const auto& key : c.fsdp->ignored) log_info(cat("ignored: ", o.fsdp2_config, " ", key));
  if (c.sharded) {
    const int64_t replicas = c.world / c.sharding_size;
    log_info(cat(o.fsdp2_config, ": parameters sharded over ", c.sharding_size, " ranks",
                 replicas > 1 ? cat(" (HSDP: ", replicas, " replicas)") : "", ", gathered in ",
                 precision_name(c.fsdp->param_dtype), ", gradients reduce-scattered in ",
                 precision_name(c.fsdp->reduce_dtype), "; reshard_after_forward ",
                 c.fsdp->reshard_after_forward ? "true" : "false", "; prefetch ", c.fsdp->num_to_forward_prefetch,
                 " unit(s) ahead in forward, ", c.fsdp->num_to_backward_prefetch, " in backward"));
    return;
  }
  log_info(cat(o.fsdp2_config, ": ", c.world == 1 ? "one process" : "replicated on every rank",
               ": prefetch and reshard settings have no effect; param_dtype ", precision_name(c.fsdp->param_dtype),
               " is the compute dtype, gradients accumulate in fp32",
               c.world == 1 ? "" : cat(" and are summed over the ranks in ", precision_name(c.fsdp->reduce_dtype))));
}

ThinkerRunOptions run_options(const ModelConfig& m, int64_t micro_batch, at::Device device) {
  ThinkerRunOptions run;
  run.text_attention = m.text.attention.value_or(AttentionBackend{});
  run.vision_attention = m.vision.attention.value_or(AttentionBackend{});
  run.audio_attention = m.audio.attention.value_or(AttentionBackend{});
  check_backend(run.text_attention, device.is_cuda(), "text_decoder");
  check_backend(run.vision_attention, device.is_cuda(), "vision_encoder");
  check_backend(run.audio_attention, device.is_cuda(), "audio_encoder");
  run.bf16_position_ids = m.bf16_position_ids;
  run.loss_chunk_rows = chunk_rows(m.loss, micro_batch);
  run.text_activations = {m.text.recompute, m.text.activation_offload};
  run.vision_activations = {m.vision.recompute, m.vision.activation_offload};
  run.audio_activations = {m.audio.recompute, m.audio.activation_offload};
  return run;
}

}  // namespace

// A GPU rank binds cuda:LOCAL_RANK.
at::Device pick_device(const std::string& device, int64_t local_rank) {
  if (device == "cpu") return at::kCPU;
  if (device != "auto" && device != "cuda") throw Error(cat("--device: '", device, "' is not auto, cpu or cuda"));
  if (!torch::cuda::is_available()) {
    if (device == "cuda") throw Error("--device cuda: no CUDA device is available");
    return at::kCPU;
  }
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (local_rank >= count)
    throw Error(cat("local rank ", local_rank, " needs cuda:", local_rank, " but this node has ", count,
                    " CUDA devices (start at most ", count, " ranks a node)"));
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
}

void check_save_series(const std::string& save, const ModelSource& source) {
  const std::vector<std::string> existing = checkpoint_dirs(save);
  if (existing.empty()) return;
  std::error_code ec;
  for (const auto& loaded : {source.checkpoint, source.adapter})
    if (loaded && fs::equivalent(fs::path(loaded->dir).parent_path(), save, ec)) return;
  throw Error(cat("--save ", save, " already holds checkpoints (", existing.back(), " and ", existing.size() - 1,
                  " more) of another run; resume them with --load ", save,
                  ", or start over in a new --save directory "
                  "(or remove those checkpoints, metrics.jsonl and ",
                  kTrackerFile, " first)"));
}

bool joins_job(const TrainOptions& o, const LaunchEnv& launch) {
  if (launch.world_size > 1) return true;
  if (o.distributed_backend.empty()) return false;
  if (launch.launcher == "none")
    throw Error(cat("--distributed-backend ", o.distributed_backend,
                    ": no launcher started this process (omnitune launch, torchrun, srun, mpirun), so there is no "
                    "job to join; leave the flag out to train in one process"));
  return true;  // a job of one rank
}

RunConfig read_run_config(const TrainOptions& o, const LaunchEnv& launch) {
  const int64_t cp = o.context_parallel_size;
  if (launch.world_size % cp != 0)
    throw Error(cat("--context-parallel-size ", cp, " does not divide the ", launch.world_size,
                    " ranks of the job (world = data-parallel x context-parallel)"));
  validate(o, launch.world_size / cp);
  RunConfig c;
  c.options = o;
  c.cp_size = cp;
  c.world = launch.world_size, c.rank = launch.rank;
  c.dp_size = launch.world_size / cp, c.dp_rank = launch.rank / cp;
  const nlohmann::json model_json = load_json_file(o.mm_model), data_json = load_json_file(o.mm_data);
  const nlohmann::json fsdp_yaml = o.fsdp2_config.empty() ? nlohmann::json(nullptr) : load_yaml_file(o.fsdp2_config);
  c.model = read_model_config(model_json, o.mm_model);
  apply_lora_flags(o, c.model.lora);
  c.data = read_data_config(data_json, o.mm_data);
  if (!o.fsdp2_config.empty()) c.fsdp = read_fsdp2_config(fsdp_yaml, o.fsdp2_config);
  if (c.fsdp)
    if (const auto shard = sharding_size_for_job(*c.fsdp, o.fsdp2_config, launch.world_size, cp, joins_job(o, launch)))
      c.sharding_size = *shard, c.sharded = true;
  if (o.seq_length) c.data.basic.cutoff_len = *o.seq_length;
  c.schedule = make_schedule(o);
  c.global_batch = o.global_batch_size.value_or(o.micro_batch_size * c.dp_size);
  c.grad_accumulation = c.global_batch / (o.micro_batch_size * c.dp_size);
  log_ignored(c);

  c.source = resolve_source(o, c.model);
  const std::string config_file = c.source.config_dir + "/config.json";
  c.hf_config_json = read_text_file(config_file);
  c.thinker = read_thinker_config(parse_json(c.hf_config_json, config_file), config_file);
  // model.json's coefficient, when given, decides whether the router aux loss is on (> 0) and its weight.
  TextConfig& text = c.thinker.text;
  const double coef =
      c.model.loss.router_aux_loss_coef.value_or(text.output_router_logits ? text.router_aux_loss_coef : 0.0);
  text.output_router_logits = coef > 0;
  text.router_aux_loss_coef = coef;
  if (cp > 1) check_ulysses_heads(text.num_attention_heads, text.num_key_value_heads, cp, "text decoder");
  c.device = pick_device(o.device, launch.local_rank);
  c.compute = c.fsdp ? dtype_of(c.fsdp->param_dtype) : at::kFloat;
  c.reduce = c.fsdp ? dtype_of(c.fsdp->reduce_dtype) : at::kFloat;
  c.run = run_options(c.model, o.micro_batch_size, c.device);
  c.resolved = {
      {"arguments", options_json(o)}, {"model_json", model_json}, {"data_json", data_json}, {"fsdp2_yaml", fsdp_yaml}};
  return c;
}

}  // namespace omnitune
