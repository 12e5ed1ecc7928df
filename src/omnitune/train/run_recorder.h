// train/run_recorder: what a run leaves behind while it trains — the log line, metrics.jsonl and TensorBoard
// every --log-interval iterations (throughput and MFU over the window since the last line, phase times
// from the device clock), the progress bar on a terminal, the checkpoints at --save-interval and at the
// end, and the final summary with the loss curve.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "omnitune/core/progress.h"
#include "omnitune/data/loader.h"
#include "omnitune/train/data_parallel.h"
#include "omnitune/train/metrics_log.h"
#include "omnitune/train/peak_flops.h"
#include "omnitune/train/phase_clock.h"
#include "omnitune/train/run_config.h"
#include "omnitune/train/train_checkpoint.h"
#include "omnitune/train/train_step.h"

namespace omnitune {

struct Evaluated {
  std::optional<double> loss;  // the validation loss, when the step was followed by an evaluation
  double seconds = 0;
};

class RunRecorder {
 public:
  // `progress`: where the run starts (a resumed checkpoint's progress, or zero).
  // On a job of several ranks every rank records (each must, at the same steps: saving and the peak
  // memory exchange ranks), rank 0 alone writes the log, metrics, TensorBoard and checkpoint files.
  // `adapter`: what a LoRA run's checkpoints hold (empty without LoRA).
  RunRecorder(const RunConfig& config, const MasterWeights& masters, const AdamW& optimizer, TrainProgress progress,
              PhaseClock& clock, DataParallel& dp, AdapterSave adapter);

  const TrainProgress& progress() const { return progress_; }
  const std::string& last_checkpoint() const { return last_checkpoint_; }

  // After each step: counts it, logs when due (and when it evaluated), saves at --save-interval. `data_s`: time
  // spent waiting for the loader; `lr`: the LR the step used; `eval`: the validation after it, if any (its
  // time is not the step's).
  void record(const StepResult& step, double lr, double data_s, Loader& loader, const Evaluated& eval = {});
  // After the last step: the final checkpoint (when --save and not just saved), the summary, the loss curve.
  void finish(Loader& loader);

 private:
  void save(Loader& loader);

  const RunConfig& config_;
  PhaseClock& clock_;
  DataParallel& dp_;
  TrainProgress progress_;
  int64_t start_iteration_;
  PeakFlops peak_;
  MetricsLog metrics_;
  SaveRequest save_;
  std::optional<ProgressBar> bar_;
  PhaseTimes phases_;
  std::chrono::steady_clock::time_point run_start_, window_start_;
  double window_flops_ = 0;
  int64_t window_tokens_ = 0, window_iters_ = 0, last_saved_ = -1;
  std::string last_checkpoint_;
};

}  // namespace omnitune
