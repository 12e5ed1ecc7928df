#include "omnitune/train/run_recorder.h"

#include <unistd.h>

#include <iostream>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/train/loss_plot.h"

namespace omnitune {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

RunRecorder::RunRecorder(const RunConfig& c, const MasterWeights& masters, const AdamW& optimizer,
                         TrainProgress progress, PhaseClock& clock, DataParallel& dp, AdapterSave adapter)
    : config_(c),
      clock_(clock),
      dp_(dp),
      progress_(progress),
      start_iteration_(progress.iteration),
      peak_(peak_flops(c.device, c.compute)),
      metrics_(c.options.save.empty() || !dp.writes() ? "" : c.options.save + "/metrics.jsonl",
               dp.writes() ? c.options.tensorboard_dir : "", progress.iteration),
      save_{c.options.save,
            &masters,
            c.options.no_save_optim ? nullptr : &optimizer,
            c.options.distributed_optimizer && c.world > 1,
            !c.options.no_save_rng,
            c.hf_config_json,
            c.resolved,
            std::move(adapter)},
      run_start_(Clock::now()),
      window_start_(Clock::now()) {
  log_info(cat("MFU is measured against ", peak_.flops_per_s / 1e12, " TFLOP/s (", peak_.source, ")"));
  if (isatty(1) && dp.writes()) bar_.emplace("train", c.options.train_iters - start_iteration_);
}

void RunRecorder::record(const StepResult& step, double lr, double data_s, Loader& loader, const Evaluated& eval) {
  const TrainOptions& o = config_.options;
  progress_.iteration += 1;
  progress_.consumed_samples += config_.global_batch;
  phases_.data += data_s;
  window_flops_ += step.flops.total(), window_tokens_ += step.tokens, ++window_iters_;
  window_start_ += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(eval.seconds));
  const bool log_now =
      progress_.iteration % o.log_interval == 0 || progress_.iteration == o.train_iters || eval.loss.has_value();
  if (log_now) {
    const auto device = clock_.collect();  // waits for the device: the window's wall time is then real
    phases_.forward += device[0], phases_.backward += device[1], phases_.optimizer += device[2];
    const double window_s = since(window_start_);
    if (bar_) bar_->clear();
    IterationRecord r;
    r.iteration = progress_.iteration, r.train_iters = o.train_iters, r.consumed_samples = progress_.consumed_samples;
    r.global_batch = config_.global_batch, r.ms_per_iter = 1e3 * window_s / window_iters_, r.lr = lr,
    r.loss = step.loss;
    r.has_aux = step.has_aux, r.aux_loss = step.aux_loss, r.grad_norm = step.grad_norm;
    r.tokens_per_s = window_tokens_ / window_s, r.tflops = window_flops_ / window_s / 1e12;
    r.mfu = window_flops_ / window_s / (peak_.flops_per_s * static_cast<double>(dp_.size()));
    r.peak_memory_mb = dp_.max(peak_memory_mb(config_.device.is_cuda()), "the peak memory of the ranks");
    r.tokens = step.tokens, r.labels = step.labels, r.eval_loss = eval.loss;
    if (dp_.writes()) metrics_.record(r);
    window_start_ = Clock::now(), window_flops_ = 0, window_tokens_ = window_iters_ = 0;
  }
  if (bar_) bar_->advance();
  if (o.save_interval > 0 && progress_.iteration % o.save_interval == 0) save(loader);
}

void RunRecorder::save(Loader& loader) {
  if (bar_) bar_->clear();
  const auto t0 = Clock::now();
  progress_.sampler = loader.state();
  progress_.sampler_ranks = config_.dp_size;
  progress_.counters = loader.counters();
  last_checkpoint_ = save_training_checkpoint(save_, progress_, dp_);
  dp_.barrier("saving the checkpoint");  // no rank goes on (or exits) before the checkpoint is complete
  last_saved_ = progress_.iteration;
  const double took = since(t0);
  phases_.checkpoint += took;
  window_start_ += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(took));  // not step time
  log_info(cat("saved ", last_checkpoint_));
}

void RunRecorder::finish(Loader& loader) {
  const TrainOptions& o = config_.options;
  if (bar_) bar_->finish();
  if (!o.save.empty() && last_saved_ != progress_.iteration) save(loader);
  const LoaderCounters counters = loader.counters();
  log_info(cat("time per phase: ", format_phases(phases_)));
  log_info(cat("done: iterations ", start_iteration_ + 1, "..", progress_.iteration, " in ",
               format_duration(since(run_start_)), "; samples ", counters.samples, ", skipped bad ",
               counters.skipped_bad, ", skipped over-long ", counters.skipped_overlong, ", shortened by cutoff_len ",
               counters.cut));
  if (dp_.writes() && !metrics_.losses().empty()) {
    std::cout << ascii_loss_curve(metrics_.losses()) << std::flush;
    if (!o.save.empty()) {
      write_loss_curve_svg(o.save + "/loss_curve.svg", metrics_.losses(),
                           metrics_.eval_losses().empty() ? "training loss" : "training and validation loss",
                           metrics_.eval_losses());
      log_info(cat("loss curve: ", o.save, "/loss_curve.svg; metrics: ", o.save, "/metrics.jsonl"));
    }
  }
  if (!last_checkpoint_.empty()) log_info(cat("last checkpoint: ", last_checkpoint_));
}

}  // namespace omnitune
