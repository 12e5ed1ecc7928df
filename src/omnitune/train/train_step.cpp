#include "omnitune/train/train_step.h"

#include <ATen/ATen.h>

#include <cmath>

#include "omnitune/core/error.h"
#include "omnitune/model/unit_runner.h"
#include "omnitune/train/loss_weights.h"

namespace omnitune {

namespace {

// "iteration 7: the loss is nan (micro-batch of rows.jsonl row 3 (line 4); ...); stopped before ..."
std::string nonfinite_message(int64_t iteration, const std::string& what, const std::vector<std::string>& rows) {
  std::string list;
  for (size_t k = 0; k < rows.size() && k < 16; ++k) list += (k ? "; " : "") + rows[k];
  if (rows.size() > 16) list += cat("; and ", rows.size() - 16, " more");
  return cat("iteration ", iteration, ": ", what, " (rows: ", list,
             "); stopped before the optimizer step, so the weights "
             "and the checkpoints are as they were. Check those rows, or lower --lr / set --clip-grad");
}

// "nan", "inf" or "-inf" (a NaN's sign bit differs between CPUs and means nothing).
std::string nonfinite_text(double value) { return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf"; }

}  // namespace

BackwardResult forward_backward(ThinkerImpl& model, const std::vector<ThinkerInputs>& micro, LossType type,
                                MasterWeights& masters, at::Device device, at::ScalarType compute, PhaseClock* clock,
                                const StepTotals* totals) {
  std::vector<at::Tensor> labels;
  for (const auto& b : micro) labels.push_back(b.labels);
  std::vector<at::Tensor> weights = label_weights(labels, type, totals);
  const double step_micro = static_cast<double>(totals ? totals->micro_batches : static_cast<int64_t>(micro.size()));
  const bool fused = model.options.loss_chunk_rows > 0;
  BackwardResult r;
  std::vector<at::Tensor> losses, aux;
  for (size_t m = 0; m < micro.size(); ++m) {
    const int64_t n_labels = count_labels(micro[m].labels);  // host tensors: no device round trip
    r.labels += n_labels;
    r.tokens += micro[m].attention_mask.sum().item<int64_t>();
    r.flops += training_flops(model.config, micro[m], fused ? n_labels : micro[m].input_ids.numel());

    if (clock) clock->start(Phase::kForward);
    ThinkerInputs in = to_device(micro[m], device, compute);
    in.label_weights = weights[m].to(device);
    in.aux_loss_scale = 1.0 / step_micro;
    masters.begin_forward();
    ThinkerOutputs out;
    {
      UnitRunnerScope sharding(masters.unit_runner());
      out = model.forward(in);
    }
    if (clock) clock->stop(Phase::kForward), clock->start(Phase::kBackward);
    out.loss.backward();
    masters.accumulate_grads();
    if (clock) clock->stop(Phase::kBackward);
    losses.push_back(out.lm_loss.detach().to(at::kFloat).reshape({1}));
    if (out.aux_loss.defined()) aux.push_back(out.aux_loss.detach().to(at::kFloat).reshape({1}));
  }
  r.micro_losses = at::cat(losses);
  r.loss = r.micro_losses.sum();
  if (!aux.empty()) r.aux_loss = at::cat(aux).sum() / step_micro;
  return r;
}

at::Tensor sum_of_squares(const at::Tensor& grad) {
  if (grad.numel() == 0) return at::zeros({}, grad.options().dtype(at::kDouble));
  const int64_t rows = grad.dim() > 1 ? grad.size(0) : 1;
  return at::linalg_vector_norm(grad.reshape({rows, -1}), 2, {1}).to(at::kDouble).square().sum();
}

at::Tensor clip_grad_norm(std::vector<at::Tensor>& grads, double max_norm) {
  if (grads.empty()) return at::zeros({});
  at::Tensor squares = at::zeros({}, grads[0].options().dtype(at::kDouble));
  for (const auto& g : grads) squares = squares + sum_of_squares(g);
  return clip_to_norm(grads, squares.sqrt().to(at::kFloat), max_norm);
}

at::Tensor clip_to_norm(std::vector<at::Tensor>& grads, const at::Tensor& total, double max_norm) {
  if (max_norm > 0) {
    at::Tensor coef = at::clamp_max(max_norm / (total + 1e-6), 1.0);
    for (auto& g : grads) g.mul_(coef.to(g.device()));
  }
  return total;
}

StepResult train_step(ThinkerImpl& model, const std::vector<ThinkerInputs>& micro, const StepSettings& s,
                      MasterWeights& masters, AdamW& optimizer, PhaseClock& clock, int64_t iteration,
                      DataParallel& dp) {
  StepTotals totals{static_cast<int64_t>(micro.size()), 0};
  for (const auto& batch : micro) totals.labels += count_labels(batch.labels);
  if (dp.size() > 1) {
    at::Tensor t = at::tensor({static_cast<double>(totals.micro_batches), static_cast<double>(totals.labels)});
    dp.sum(t, "counting the step's labels");
    t /= static_cast<double>(s.context_parallel);  // each micro-batch was counted by each rank of its CP group
    totals = {static_cast<int64_t>(t[0].item<double>()), static_cast<int64_t>(t[1].item<double>())};
  }
  BackwardResult b = forward_backward(model, micro, s.loss_type, masters, s.device, s.compute, &clock, &totals);
  clock.start(Phase::kOptimizer);
  masters.reduce_grads(dp, s.reduce);
  at::Tensor norm = masters.clip_grads(s.clip_grad);
  // The one read of the step: aux loss, grad norm and each micro-batch's loss, in a single transfer.
  std::vector<at::Tensor> parts = {b.aux_loss.defined() ? b.aux_loss.reshape({1}) : at::zeros({1}, b.loss.options()),
                                   norm.to(b.loss.device(), at::kFloat).reshape({1}), b.micro_losses};
  const at::Tensor values = at::cat(parts).to(at::kCPU, at::kDouble);
  const double* v = values.data_ptr<double>();
  bool finite = true;
  double loss = 0;
  for (size_t m = 0; m < micro.size(); ++m) finite = finite && std::isfinite(v[2 + m]), loss += v[2 + m];
  // [loss, aux loss, tokens, labels, flops text/vision/audio, ranks with a non-finite loss] over the ranks.
  at::Tensor global = at::tensor({loss, v[0], static_cast<double>(b.tokens), static_cast<double>(b.labels),
                                  b.flops.text, b.flops.vision, b.flops.audio, finite ? 0.0 : 1.0});
  dp.sum(global, "summing the step's loss");
  // The loss and aux loss are the sums of the CP ranks' shares; the counts were made by each of them.
  global.narrow(0, 2, 5) /= static_cast<double>(s.context_parallel);
  const double* g = global.data_ptr<double>();
  StepResult r{g[0],
               g[1],
               v[1],
               b.aux_loss.defined(),
               static_cast<int64_t>(g[2]),
               static_cast<int64_t>(g[3]),
               StepFlops{g[4], g[5], g[6]}};
  for (size_t m = 0; m < micro.size(); ++m)
    if (!std::isfinite(v[2 + m]))
      throw Error(nonfinite_message(iteration, cat("the loss is ", nonfinite_text(v[2 + m])), micro[m].sources));
  if (g[7] > 0)
    throw Error(cat("iteration ", iteration, ": another rank's loss is not finite (its message names the rows); ",
                    "stopped before the optimizer step, so the weights and the checkpoints are as they were"));
  if (!std::isfinite(r.grad_norm)) {
    std::vector<std::string> rows;
    for (const auto& batch : micro) rows.insert(rows.end(), batch.sources.begin(), batch.sources.end());
    throw Error(nonfinite_message(iteration, cat("the gradient norm is ", nonfinite_text(r.grad_norm)), rows));
  }
  if (s.shard) {
    optimizer.step(s.lr, s.shard->pick(masters.grads()), s.shard->pick(masters.has_grad()));
    s.shard->share_updated(masters.trainable(), dp);
  } else {
    optimizer.step(s.lr, masters.grads(), masters.has_grad());
  }
  masters.publish();
  masters.zero_grads();
  clock.stop(Phase::kOptimizer);
  return r;
}

}  // namespace omnitune
