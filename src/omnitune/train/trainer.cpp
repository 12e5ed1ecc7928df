#include "omnitune/train/trainer.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>

#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/core/fsdp2_config.h"
#include "omnitune/core/log.h"
#include "omnitune/core/progress.h"
#include "omnitune/data/loader.h"
#include "omnitune/model/hf_checkpoint.h"
#include "omnitune/model/model_memory.h"
#include "omnitune/train/adamw.h"
#include "omnitune/train/freeze.h"
#include "omnitune/train/lr_schedule.h"
#include "omnitune/train/master_weights.h"
#include "omnitune/train/metrics_log.h"
#include "omnitune/train/model_config.h"
#include "omnitune/train/peak_flops.h"
#include "omnitune/train/save_lock.h"
#include "omnitune/train/train_checkpoint.h"
#include "omnitune/train/train_step.h"
#include "omnitune/weights/checkpoint_layout.h"
#include "omnitune/weights/checkpoint_model.h"

namespace fs = std::filesystem;

namespace omnitune {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

at::ScalarType dtype_of(Precision p) {
  switch (p) {
    case Precision::kFloat32: return at::kFloat;
    case Precision::kBFloat16: return at::kBFloat16;
    case Precision::kFloat16: return at::kHalf;
  }
  return at::kFloat;
}

// Where the weights come from, decided before anything is built.
struct ModelSource {
  std::string config_dir;         // holds the HF config.json of the model
  std::string hf_weights;         // load these HF weights ("" = none)
  std::optional<CheckpointLocation> checkpoint;  // or this training checkpoint
  bool random_init = false;
};

ModelSource resolve_source(const TrainOptions& o, const ModelConfig& m) {
  ModelSource s;
  if (!o.load.empty()) {
    if (!fs::exists(o.load)) throw Error(cat("--load ", o.load, ": no such file or directory"));
    if (is_hf_model_dir(o.load)) {
      s.hf_weights = o.load;
    } else {
      s.checkpoint = locate_checkpoint(o.load);
    }
  }
  s.config_dir = m.init_from_hf_path;
  if (s.config_dir.empty()) s.config_dir = !s.hf_weights.empty() ? s.hf_weights : (s.checkpoint ? s.checkpoint->dir : "");
  if (s.config_dir.empty())
    throw Error(cat(m.path, ": init_from_hf_path is empty and --load gives no model: nothing says which model to train"));
  if (!fs::exists(fs::path(s.config_dir) / "config.json"))
    throw Error(cat(m.path, ": init_from_hf_path ", s.config_dir, " has no config.json"));
  if (o.load.empty()) {
    if (o.init_model_with_meta_device) {
      s.random_init = true;
    } else {
      if (!is_hf_model_dir(s.config_dir))
        throw Error(cat(s.config_dir, ": no model weights (model.safetensors or its index) to start from; pass --load, or "
                        "--init-model-with-meta-device to train from a random initialisation"));
      s.hf_weights = s.config_dir;
    }
  }
  return s;
}

// --save holds one series of checkpoints: a run that does not resume from one of them must not add to it.
void check_save_series(const std::string& save, const ModelSource& source) {
  const std::vector<std::string> existing = checkpoint_dirs(save);
  if (existing.empty()) return;
  std::error_code ec;
  if (source.checkpoint && fs::equivalent(fs::path(source.checkpoint->dir).parent_path(), save, ec)) return;
  throw Error(cat("--save ", save, " already holds checkpoints (", existing.back(), " and ", existing.size() - 1,
                  " more) of another run; resume them with --load ", save, ", or start over in a new --save directory "
                  "(or remove those checkpoints, metrics.jsonl and ", kTrackerFile, " first)"));
}

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
  return {{"mm_data", o.mm_data}, {"mm_model", o.mm_model}, {"fsdp2_config", o.fsdp2_config},
          {"micro_batch_size", o.micro_batch_size}, {"global_batch_size", o.global_batch_size.value_or(o.micro_batch_size)},
          {"seq_length", o.seq_length ? nlohmann::json(*o.seq_length) : nlohmann::json(nullptr)},
          {"lr", o.lr.value_or(0)}, {"min_lr", o.min_lr}, {"lr_decay_style", o.lr_decay_style},
          {"lr_warmup_fraction", o.lr_warmup_fraction ? nlohmann::json(*o.lr_warmup_fraction) : nlohmann::json(nullptr)},
          {"lr_warmup_iters", o.lr_warmup_iters}, {"lr_decay_iters", o.lr_decay_iters.value_or(o.train_iters)},
          {"weight_decay", o.weight_decay}, {"adam_beta1", o.adam_beta1}, {"adam_beta2", o.adam_beta2},
          {"adam_eps", o.adam_eps}, {"clip_grad", o.clip_grad}, {"train_iters", o.train_iters}, {"seed", o.seed},
          {"load", o.load}, {"save", o.save}, {"save_interval", o.save_interval}, {"log_interval", o.log_interval},
          {"no_load_optim", o.no_load_optim}, {"no_load_rng", o.no_load_rng}, {"no_save_optim", o.no_save_optim},
          {"no_save_rng", o.no_save_rng}, {"init_model_with_meta_device", o.init_model_with_meta_device},
          {"device", o.device}};
}

LrSchedule make_schedule(const TrainOptions& o) {
  LrSchedule s;
  if (!o.lr) throw Error("--lr is required");
  s.lr = *o.lr;
  s.min_lr = o.min_lr;
  s.style = parse_lr_decay_style(o.lr_decay_style);
  s.decay_steps = o.lr_decay_iters.value_or(o.train_iters);
  if (o.lr_warmup_fraction && o.lr_warmup_iters > 0) throw Error("--lr-warmup-fraction and --lr-warmup-iters are exclusive");
  s.warmup_steps = o.lr_warmup_fraction ? *o.lr_warmup_fraction * static_cast<double>(s.decay_steps)
                                        : static_cast<double>(o.lr_warmup_iters);
  s.validate();
  return s;
}

// Rules between flags (each flag's own range is checked where the command line is read).
void validate(const TrainOptions& o) {
  const int64_t gbs = o.global_batch_size.value_or(o.micro_batch_size);
  if (gbs < o.micro_batch_size || gbs % o.micro_batch_size != 0)
    throw Error(cat("--global-batch-size ", gbs, " is not a multiple of --micro-batch-size ", o.micro_batch_size,
                    " x data-parallel size 1 (one process)"));
  if (gbs > INT64_MAX / o.train_iters)
    throw Error(cat("--train-iters ", o.train_iters, " x --global-batch-size ", gbs, " samples do not fit a 64-bit count"));
  if (o.save_interval > 0 && o.save.empty()) throw Error("--save-interval needs --save");
}

// A non-finite loss or gradient norm stops the run before the optimizer step (the weights and every
// checkpoint stay as they were): the message names the iteration, the micro-batch's rows and how to resume.
std::string nonfinite_message(int64_t iteration, const StepResult& step, double grad_norm, const std::vector<Batch>& micro,
                              const std::string& last_checkpoint) {
  std::string what = step.first_nonfinite >= 0 || !std::isfinite(step.loss) ? cat("the loss is ", step.loss)
                                                                              : cat("the gradient norm is ", grad_norm);
  std::vector<std::string> rows;
  const size_t from = step.first_nonfinite >= 0 ? static_cast<size_t>(step.first_nonfinite) : 0;
  const size_t to = step.first_nonfinite >= 0 ? from + 1 : micro.size();
  for (size_t m = from; m < to; ++m) rows.insert(rows.end(), micro[m].sources.begin(), micro[m].sources.end());
  std::string list;
  for (size_t k = 0; k < rows.size() && k < 16; ++k) list += (k ? "; " : "") + rows[k];
  if (rows.size() > 16) list += cat("; and ", rows.size() - 16, " more");
  return cat("iteration ", iteration, ": ", what, " (", step.first_nonfinite >= 0 ? "micro-batch of " : "samples: ", list,
             "); stopped before the optimizer step, nothing was saved from this iteration",
             last_checkpoint.empty() ? std::string() : cat("; the last checkpoint is ", last_checkpoint),
             ". Check those rows, or lower --lr / set --clip-grad");
}

at::Device pick_device(const std::string& device) {
  if (device == "cpu") return at::kCPU;
  if (device == "cuda") {
    if (!torch::cuda::is_available()) throw Error("--device cuda: no CUDA device is available");
    return at::Device(at::kCUDA, 0);
  }
  if (device != "auto") throw Error(cat("--device: '", device, "' is not auto, cpu or cuda"));
  return torch::cuda::is_available() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
}

}  // namespace

void run_training(const TrainOptions& o) {
  const auto run_start = Clock::now();
  validate(o);
  // --- configuration: every file read and checked before anything is built or written.
  ModelConfig mcfg = load_model_config(o.mm_model);
  DataConfig dcfg = load_data_config(o.mm_data);
  std::optional<Fsdp2Config> fsdp;
  if (!o.fsdp2_config.empty()) fsdp = load_fsdp2_config(o.fsdp2_config);
  if (fsdp && fsdp->offload_to_cpu) throw Error(cat(o.fsdp2_config, ": offload_to_cpu is not supported yet"));
  if (o.seq_length) dcfg.basic.cutoff_len = *o.seq_length;
  LrSchedule schedule = make_schedule(o);
  const int64_t ga = o.global_batch_size.value_or(o.micro_batch_size) / o.micro_batch_size;
  const int64_t gbs = ga * o.micro_batch_size;

  for (const auto& flag : o.ignored_flags) log_info(cat("ignored (no meaning in OmniTune): ", flag));
  for (const auto& key : mcfg.ignored) log_info(cat("ignored: ", o.mm_model, " ", key, " (the architecture comes from config.json)"));
  for (const auto& key : dcfg.ignored) log_info(cat("ignored: ", o.mm_data, " ", key));
  if (fsdp)
    for (const auto& key : fsdp->ignored) log_info(cat("ignored: ", o.fsdp2_config, " ", key));
  if (fsdp)
    log_info(cat(o.fsdp2_config, ": one process: sharding, prefetch and reshard settings have no effect; param_dtype ",
                 precision_name(fsdp->param_dtype), " is the compute dtype, gradients accumulate in fp32"));

  ModelSource source = resolve_source(o, mcfg);
  const std::string hf_config_json = read_text_file(source.config_dir + "/config.json");
  std::optional<SaveDirLock> save_lock;
  if (!o.save.empty()) {
    save_lock.emplace(o.save, cat("omnitune train --mm-data ", o.mm_data, " --mm-model ", o.mm_model));
    check_save_series(o.save, source);
  }

  // --- model
  at::manual_seed(static_cast<uint64_t>(o.seed));
  const at::Device device = pick_device(o.device);
  const at::ScalarType compute = fsdp ? dtype_of(fsdp->param_dtype) : at::kFloat;
  ThinkerConfig tcfg = load_thinker_config(source.config_dir);
  double aux_coef = tcfg.text.output_router_logits ? tcfg.text.router_aux_loss_coef : 0.0;
  if (mcfg.loss.router_aux_loss_coef) aux_coef = *mcfg.loss.router_aux_loss_coef;
  tcfg.text.output_router_logits = aux_coef > 0;
  tcfg.text.router_aux_loss_coef = aux_coef;
  ThinkerRunOptions run;
  run.text_attention = mcfg.text.attention.value_or(AttentionBackend{});
  run.vision_attention = mcfg.vision.attention.value_or(AttentionBackend{});
  run.audio_attention = mcfg.audio.attention.value_or(AttentionBackend{});
  check_backend(run.text_attention, device.is_cuda(), "text_decoder");
  check_backend(run.vision_attention, device.is_cuda(), "vision_encoder");
  check_backend(run.audio_attention, device.is_cuda(), "audio_encoder");
  run.bf16_position_ids = mcfg.bf16_position_ids;
  run.loss_chunk_rows = chunk_rows(mcfg.loss, o.micro_batch_size);
  run.text_activations = {mcfg.text.recompute, mcfg.text.activation_offload};
  run.vision_activations = {mcfg.vision.recompute, mcfg.vision.activation_offload};
  run.audio_activations = {mcfg.audio.recompute, mcfg.audio.activation_offload};
  check_thinker_fits_in_memory(tcfg, source.config_dir + "/config.json");
  Thinker model(tcfg, run);

  std::optional<LoadedState> resumed;
  if (source.random_init) {
    log_warn(cat("--init-model-with-meta-device without --load: training starts from random weights (seed ", o.seed, ")"));
    init_thinker_weights(*model, static_cast<uint64_t>(o.seed));
  } else if (!source.hf_weights.empty()) {
    LoadReport r = load_hf_thinker(*model, source.hf_weights);
    log_info(cat("loaded ", r.loaded, " tensors from ", source.hf_weights, " (Hugging Face)"));
  } else {
    load_checkpoint_model(*model, source.checkpoint->dir, hf_config_json);
    log_info(cat("loaded the model of ", source.checkpoint->dir));
    if (!source.checkpoint->release) resumed = load_training_state(source.checkpoint->dir, !o.no_load_optim, !o.no_load_rng);
  }
  model->to(device);

  std::set<std::string> frozen = frozen_parameters(*model, mcfg);
  MasterWeights masters(*model, compute, frozen);
  if (masters.trainable().empty()) throw Error(cat(o.mm_model, ": every parameter is frozen; nothing to train"));
  AdamW optimizer(masters.trainable(), {o.adam_beta1, o.adam_beta2, o.adam_eps, o.weight_decay});
  if (resumed && resumed->optimizer) optimizer.load_state(*resumed->optimizer, resumed->optimizer_steps, source.checkpoint->dir);
  log_info(cat("model: ", masters.all().size(), " tensors, ", masters.trainable_numel(), " trainable parameters (",
               frozen.size(), " tensors frozen); compute ", c10::toString(compute), " on ", device.str(),
               "; fp32 master weights"));

  // --- data
  auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_dir(dcfg.preprocess.model_name_or_path));
  auto builder = std::make_shared<const SampleBuilder>(dcfg, tokenizer);
  SamplerOptions sampler{o.micro_batch_size, 0, 1, static_cast<uint64_t>(o.seed), dcfg.loader.shuffle, dcfg.loader.drop_last};
  Loader loader(open_rows(dcfg, sampler), builder, dcfg, dcfg.loader.num_workers, std::max<int64_t>(2, 2 * ga));
  TrainProgress progress;
  if (resumed) {
    progress = resumed->progress;
    loader.restore(progress.sampler);
    log_info(cat("resuming at iteration ", progress.iteration, " (", progress.consumed_samples, " samples consumed)",
                 o.no_load_optim ? "; fresh optimizer (--no-load-optim)" : ""));
  }
  const int64_t start_iteration = progress.iteration;
  if (start_iteration >= o.train_iters)
    throw Error(cat("the checkpoint is at iteration ", start_iteration, "; --train-iters ", o.train_iters, " leaves nothing to do"));

  // --- run
  const PeakFlops peak = peak_flops(device, compute);
  log_info(cat("MFU is measured against ", peak.flops_per_s / 1e12, " TFLOP/s (", peak.source, ")"));
  MetricsLog metrics(o.save.empty() ? "" : o.save + "/metrics.jsonl", o.tensorboard_dir, start_iteration);
  SaveRequest save{o.save, &masters, o.no_save_optim ? nullptr : &optimizer, !o.no_save_rng, hf_config_json,
                   {{"arguments", options_json(o)}, {"model_json", load_json_file(o.mm_model)},
                    {"data_json", load_json_file(o.mm_data)},
                    {"fsdp2_yaml", o.fsdp2_config.empty() ? nlohmann::json(nullptr) : load_yaml_file(o.fsdp2_config)}}};
  PhaseTimes phases;
  std::optional<ProgressBar> bar;
  if (isatty(1)) bar.emplace("train", o.train_iters - start_iteration);
  int64_t last_saved = -1;
  double window_s = 0, window_flops = 0;
  int64_t window_tokens = 0, window_iters = 0;
  std::string last_checkpoint;
  auto save_now = [&] {
    if (bar) bar->clear();
    auto t0 = Clock::now();
    progress.sampler = loader.state();
    progress.counters = loader.counters();
    last_checkpoint = save_training_checkpoint(save, progress);
    last_saved = progress.iteration;
    phases.checkpoint += since(t0);
    log_info(cat("saved ", last_checkpoint));
  };

  for (int64_t it = start_iteration; it < o.train_iters; ++it) {
    const auto iter_start = Clock::now();
    std::vector<Batch> micro;
    for (int64_t m = 0; m < ga; ++m) micro.push_back(loader.next());
    const double data_s = since(iter_start);
    StepResult step = forward_backward(*model, micro, mcfg.loss.type, aux_coef, masters, device, compute);
    auto t_opt = Clock::now();
    const double grad_norm = clip_grad_norm(masters.grads(), o.clip_grad);
    if (step.first_nonfinite >= 0 || !std::isfinite(step.loss) || !std::isfinite(grad_norm)) {
      if (bar) bar->clear();
      throw Error(nonfinite_message(it + 1, step, grad_norm, micro, last_checkpoint));
    }
    const double lr = schedule.lr_at(it);
    optimizer.step(lr, masters.grads(), masters.has_grad());
    masters.publish();
    masters.zero_grads();
    if (device.is_cuda()) torch::cuda::synchronize();
    const double opt_s = since(t_opt);
    progress.iteration = it + 1;
    progress.consumed_samples += gbs;
    phases.data += data_s, phases.forward += step.forward_s, phases.backward += step.backward_s, phases.optimizer += opt_s;
    const double iter_s = since(iter_start);
    window_s += iter_s, window_flops += step.flops.total(), window_tokens += step.tokens, ++window_iters;
    const bool log_now = progress.iteration % o.log_interval == 0 || progress.iteration == o.train_iters;
    if (bar && log_now) bar->clear();

    if (log_now) {
      IterationRecord r;
      r.iteration = progress.iteration, r.train_iters = o.train_iters, r.consumed_samples = progress.consumed_samples;
      r.global_batch = gbs, r.ms_per_iter = 1e3 * window_s / window_iters, r.lr = lr, r.loss = step.loss;
      r.has_aux = aux_coef > 0, r.aux_loss = step.aux_loss, r.grad_norm = grad_norm;
      r.tokens_per_s = window_tokens / window_s, r.tflops = window_flops / window_s / 1e12;
      r.mfu = window_flops / window_s / peak.flops_per_s, r.peak_memory_mb = peak_memory_mb(device.is_cuda());
      r.tokens = step.tokens, r.labels = step.labels;
      metrics.record(r);
      window_s = window_flops = 0, window_tokens = window_iters = 0;
    }
    if (bar) bar->advance();
    if (o.save_interval > 0 && progress.iteration % o.save_interval == 0) save_now();
  }
  if (bar) bar->finish();
  if (!o.save.empty() && last_saved != progress.iteration) save_now();

  // --- summary
  LoaderCounters counters = loader.counters();
  log_info(cat("time per phase: ", format_phases(phases)));
  log_info(cat("done: iterations ", start_iteration + 1, "..", progress.iteration, " in ", format_duration(since(run_start)),
               "; samples ", counters.samples, ", skipped bad ", counters.skipped_bad, ", skipped over-long ",
               counters.skipped_overlong, ", shortened by cutoff_len ", counters.cut));
  if (!metrics.losses().empty()) {
    std::cout << ascii_loss_curve(metrics.losses()) << std::flush;
    if (!o.save.empty()) {
      write_loss_curve_svg(o.save + "/loss_curve.svg", metrics.losses(), "training loss");
      log_info(cat("loss curve: ", o.save, "/loss_curve.svg; metrics: ", o.save, "/metrics.jsonl"));
    }
  }
  if (!last_checkpoint.empty()) log_info(cat("last checkpoint: ", last_checkpoint));
}

}  // namespace omnitune
