#include "omnitune/train/trainer.h"

#include <c10/cuda/CUDAFunctions.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/data/loader.h"
#include "omnitune/data/row_source.h"
#include "omnitune/data/validation_split.h"
#include "omnitune/train/data_parallel.h"
#include "omnitune/train/evaluation.h"
#include "omnitune/train/phase_clock.h"
#include "omnitune/train/run_config.h"
#include "omnitune/train/run_recorder.h"
#include "omnitune/train/save_lock.h"
#include "omnitune/train/train_step.h"
#include "omnitune/train/training_model.h"
#include "omnitune/weights/peft_adapter.h"

namespace omnitune {

namespace {

// A checkpoint saved by D ranks counts its sampler position in micro-batches of each of D ranks: the same
// rows consumed, counted for `ranks`.
SamplerState sampler_state_for(const TrainProgress& p, int64_t ranks) {
  SamplerState s = p.sampler;
  const int64_t entries = s.position * p.sampler_ranks;  // micro-batches of the whole job
  if (entries % ranks != 0)
    throw Error(cat("the checkpoint's data position (", s.position, " micro-batches on each of ", p.sampler_ranks,
                    " ranks) does not split over ", ranks, " ranks; resume on a number of ranks that divides ",
                    entries));
  s.position = entries / ranks;
  return s;
}

// The data part of a run: data.json's training rows (in memory or streamed) in the sampler's order, built into
// micro-batches by worker threads, positioned where a resumed checkpoint left off; and the validation, when
// there are validation rows and --eval-interval asks for it.
struct RunData {
  std::unique_ptr<Loader> loader;
  std::optional<Evaluation> evaluation;
};

RunData build_data(const RunConfig& c, const std::optional<LoadedState>& resumed) {
  const TrainOptions& o = c.options;
  const DataConfig& d = c.data;
  auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_dir(d.preprocess.model_name_or_path));
  auto builder = std::make_shared<const SampleBuilder>(d, tokenizer, c.thinker.position_id_per_seconds);
  // The ranks of a context-parallel group read the same rows: the sampler counts data-parallel ranks.
  SamplerOptions sampler{o.micro_batch_size, c.dp_rank,         c.dp_size, static_cast<uint64_t>(o.seed),
                         d.loader.shuffle,   d.loader.drop_last};
  const TrainValidation rows = load_train_validation(d, static_cast<uint64_t>(o.seed));
  RunData out;
  out.loader =
      std::make_unique<Loader>(rows.train ? std::make_unique<IndexedRows>(rows.train, sampler) : open_rows(d, sampler),
                               builder, d, d.loader.num_workers, std::max<int64_t>(2, 2 * c.grad_accumulation));
  if (resumed) out.loader->restore(sampler_state_for(resumed->progress, c.dp_size));
  const bool evaluates = o.eval_interval > 0 && o.eval_interval <= o.train_iters;  // the seed's 10000: never
  if (evaluates && !rows.validation)
    log_info(cat("--eval-interval ", o.eval_interval, ": ", o.mm_data,
                 " names no validation rows (val_dataset, val_rate): no evaluation"));
  if (evaluates && rows.validation) out.evaluation.emplace(rows.validation, builder, c);
  return out;
}

// The job this process belongs to (the launcher's environment; none: one process).
DataParallel join_job(const TrainOptions& o, const LaunchEnv& env) {
  if (!joins_job(o, env)) return DataParallel();
  JoinOptions join;
  join.device = pick_device(o.device, env.local_rank);  // a GPU rank binds cuda:LOCAL_RANK
  if (join.device.is_cuda()) c10::cuda::set_device(join.device.index());
  join.backend = parse_dist_backend(!o.distributed_backend.empty() ? o.distributed_backend
                                    : join.device.is_cuda()        ? "nccl"
                                                                   : "gloo");
  join.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.distributed_timeout_minutes * 60e3));
  if (std::getenv("OMNITUNE_LAUNCHED") == nullptr) set_log_rank(static_cast<int>(env.rank));  // else launch names it
  if (env.rank != 0) set_log_level(LogLevel::kWarn);  // rank 0 speaks for the job
  log_info(cat("joining a job of ", env.world_size, " ranks (", env.launcher, ", rendezvous at ", env.master_addr, ":",
               env.master_port, ")"));
  return DataParallel(env, join);
}

// Reads the run's files on every rank; any rank's failure stops them all, each naming it. Then every rank
// must have read the same: files, flags and build.
RunConfig read_job_config(const TrainOptions& o, const LaunchEnv& env, DataParallel& dp) {
  RunConfig c;
  std::string failure;
  try {
    c = read_run_config(o, env);
  } catch (const Error& e) {
    if (dp.size() == 1) throw;
    failure = e.what();
  }
  dp.check_started(failure);
  dp.check_same({{"arguments", c.resolved["arguments"].dump()},
                 {"model.json", c.resolved["model_json"].dump()},
                 {"data.json", c.resolved["data_json"].dump()},
                 {"FSDP2 yaml", c.resolved["fsdp2_yaml"].dump()},
                 {"config.json", c.hf_config_json},
                 {"omnitune build", o.build}});
  return c;
}

// A LoRA run's checkpoints: the adapter factors and modules_to_save, with the adapter's config naming the base
// (absolute, so the checkpoint resumes from anywhere).
AdapterSave adapter_save(const RunConfig& c, const TrainingModel& model) {
  if (!model.lora) return {};
  const ModelSource& s = c.source;
  const std::string base = !s.hf_weights.empty() ? s.hf_weights : (s.checkpoint ? s.checkpoint->dir : "");
  std::vector<std::string> saved = model.lora->modules_to_save;
  return {
      peft_adapter_config(*model.lora, base.empty() ? "" : std::filesystem::absolute(base).lexically_normal().string())
              .dump(2) +
          "\n",
      [saved](const std::string& name) { return is_lora_parameter(name) || under_module(name, saved); }};
}

}  // namespace

void run_training(const TrainOptions& options) {
  const LaunchEnv env = read_launch_env();
  DataParallel dp = join_job(options, env);
  const RunConfig c = read_job_config(options, env, dp);  // every file read and checked before anything is written
  const TrainOptions& o = c.options;
  std::optional<SaveDirLock> save_lock;
  if (!o.save.empty() && dp.writes()) {
    save_lock.emplace(o.save, cat("omnitune train --mm-data ", o.mm_data, " --mm-model ", o.mm_model));
    check_save_series(o.save, c.source);
  }
  TrainingModel model = build_training_model(c, dp);
  RunData data = build_data(c, model.resumed);
  std::unique_ptr<Loader>& loader = data.loader;
  TrainProgress progress;
  if (model.resumed) {
    progress = model.resumed->progress;
    log_info(cat("resuming at iteration ", progress.iteration, " (", progress.consumed_samples, " samples consumed)",
                 o.no_load_optim ? "; fresh optimizer (--no-load-optim)" : ""));
  }
  if (progress.iteration >= o.train_iters)
    throw Error(cat("the checkpoint is at iteration ", progress.iteration, "; --train-iters ", o.train_iters,
                    " leaves nothing to do"));

  PhaseClock clock(c.device);
  RunRecorder recorder(c, *model.masters, *model.optimizer, progress, clock, dp, adapter_save(c, model));
  StepSettings settings{c.model.loss.type, 0.0,      o.clip_grad, c.device,
                        c.compute,         c.reduce, c.cp_size,   model.shard ? &*model.shard : nullptr};
  for (int64_t it = progress.iteration; it < o.train_iters; ++it) {
    const auto waited = std::chrono::steady_clock::now();
    std::vector<ThinkerInputs> micro;
    for (int64_t m = 0; m < c.grad_accumulation; ++m) micro.push_back(loader->next());
    const double data_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - waited).count();
    settings.lr = c.schedule.lr_at(it);
    const StepResult step =
        train_step(*model.thinker, micro, settings, *model.masters, *model.optimizer, clock, it + 1, dp);
    Evaluated eval;
    if (data.evaluation && data.evaluation->due(it + 1)) {
      const auto started = std::chrono::steady_clock::now();
      eval.loss = data.evaluation->run(*model.thinker, *model.masters, dp);
      eval.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    }
    recorder.record(step, settings.lr, data_s, *loader, eval);
  }
  recorder.finish(*loader);
  dp.leave();
}

}  // namespace omnitune
