#include "omnitune/train/trainer.h"

#include <chrono>
#include <optional>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/data/loader.h"
#include "omnitune/train/phase_clock.h"
#include "omnitune/train/run_config.h"
#include "omnitune/train/run_recorder.h"
#include "omnitune/train/save_lock.h"
#include "omnitune/train/train_step.h"
#include "omnitune/train/training_model.h"

namespace omnitune {

namespace {

// The data part of a run: data.json's rows (in memory or streamed) in the sampler's order, built into
// micro-batches by worker threads, positioned where a resumed checkpoint left off.
std::unique_ptr<Loader> build_loader(const RunConfig& c, const std::optional<LoadedState>& resumed) {
  const TrainOptions& o = c.options;
  const DataConfig& d = c.data;
  auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_dir(d.preprocess.model_name_or_path));
  auto builder = std::make_shared<const SampleBuilder>(d, tokenizer, c.thinker.position_id_per_seconds);
  SamplerOptions sampler{o.micro_batch_size, 0, 1, static_cast<uint64_t>(o.seed), d.loader.shuffle, d.loader.drop_last};
  auto loader = std::make_unique<Loader>(open_rows(d, sampler), builder, d, d.loader.num_workers,
                                         std::max<int64_t>(2, 2 * c.grad_accumulation));
  if (resumed) loader->restore(resumed->progress.sampler);
  return loader;
}

}  // namespace

void run_training(const TrainOptions& options) {
  const RunConfig c = read_run_config(options);  // every file read and checked before anything is written
  const TrainOptions& o = c.options;
  std::optional<SaveDirLock> save_lock;
  if (!o.save.empty()) {
    save_lock.emplace(o.save, cat("omnitune train --mm-data ", o.mm_data, " --mm-model ", o.mm_model));
    check_save_series(o.save, c.source);
  }
  TrainingModel model = build_training_model(c);
  std::unique_ptr<Loader> loader = build_loader(c, model.resumed);
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
  RunRecorder recorder(c, *model.masters, *model.optimizer, progress, clock);
  StepSettings settings{c.model.loss.type, 0.0, o.clip_grad, c.device, c.compute};
  for (int64_t it = progress.iteration; it < o.train_iters; ++it) {
    const auto waited = std::chrono::steady_clock::now();
    std::vector<ThinkerInputs> micro;
    for (int64_t m = 0; m < c.grad_accumulation; ++m) micro.push_back(loader->next());
    const double data_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - waited).count();
    settings.lr = c.schedule.lr_at(it);
    const StepResult step =
        train_step(*model.thinker, micro, settings, *model.masters, *model.optimizer, clock, it + 1);
    recorder.record(step, settings.lr, data_s, *loader);
  }
  recorder.finish(*loader);
}

}  // namespace omnitune
