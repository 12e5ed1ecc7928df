// train/metrics_log: what a run reports. Every --log-interval iterations: one log line (the seed's
// fields plus aux loss, tokens/s, MFU and peak memory), one JSON object appended to
// <save>/metrics.jsonl and TensorBoard scalars; at the iterations that evaluated, the validation loss too
// (`eval_loss`, TensorBoard `eval/loss`). At the end: the time per phase (data wait, forward,
// backward, optimizer, checkpoint) and a summary.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "omnitune/train/loss_plot.h"
#include "omnitune/train/tensorboard.h"

namespace omnitune {

struct PhaseTimes {
  double data = 0, forward = 0, backward = 0, optimizer = 0, checkpoint = 0;
  double total() const { return data + forward + backward + optimizer + checkpoint; }
};

struct IterationRecord {
  int64_t iteration = 0, train_iters = 0, consumed_samples = 0, global_batch = 0;
  double ms_per_iter = 0, lr = 0, loss = 0, aux_loss = 0, grad_norm = 0;
  bool has_aux = false;
  double tokens_per_s = 0, tflops = 0, mfu = 0;  // mfu in [0, 1]
  double peak_memory_mb = 0;
  int64_t tokens = 0, labels = 0;
  std::optional<double> eval_loss;  // the validation loss, at the iterations that evaluated
};

class MetricsLog {
 public:
  // metrics_path: "" = none (no --save); tensorboard_dir: "" = none. A run that starts at `start_iteration`
  // (a resume) keeps the records up to it and drops later ones (left by a run that went further from an
  // older checkpoint), rewriting metrics.jsonl atomically, and marks TensorBoard so that it drops its events
  // from start_iteration + 1 on: no iteration is ever recorded twice.
  MetricsLog(const std::string& metrics_path, const std::string& tensorboard_dir, int64_t start_iteration = 0);
  void record(const IterationRecord& r);                // log line + metrics.jsonl + TensorBoard
  const LossPoints& losses() const { return losses_; }  // earlier runs' points (read back on resume) included
  const LossPoints& eval_losses() const { return eval_losses_; }

 private:
  std::string metrics_path_;
  std::unique_ptr<TensorBoardWriter> tensorboard_;
  LossPoints losses_, eval_losses_;
};

std::string format_phases(const PhaseTimes& t);  // "data 1.2s (3%) | forward ..."

// Peak memory in MB: the CUDA allocator's max allocated on a GPU, else the process's peak RSS.
double peak_memory_mb(bool cuda);

}  // namespace omnitune
