// train/fsdp_runner: the order of the parameter sharding's collectives. Each micro-batch, the forward
// gathers every unit before it runs (and frees it after with reshard_after_forward); the backward gathers a
// unit again when the gradient reaches its outputs and reduce-scatters its gradients once the gradient has
// left its inputs. Every rank must issue the same collectives in the same order whatever its data, so the
// runner logs the forward's unit calls (a tower this rank skips is logged as placeholder calls) and walks
// that log backwards with two cursors — one for the gathers, one for the reduce-scatters (each on its own
// process group, the reduce-scatters asynchronous) — issuing an event only in log order. A rank that has
// nothing to compute for a unit still issues its events: at the latest when its backward ends (finish()).
// Prefetch: the backward starts the next `backward_prefetch` gathers of the log while a unit computes; the
// forward starts the next `forward_prefetch` units of the previous micro-batch's log (the same on every rank)
// for as long as this forward follows it.
#pragma once

#include <vector>

#include "omnitune/model/unit_runner.h"
#include "omnitune/train/sharded_weights.h"

namespace omnitune {

class FsdpRunner : public UnitRunner {
 public:
  FsdpRunner(ShardedWeights& weights, const ShardingOptions& options);

  void begin();   // a micro-batch starts: the root gathered
  void finish();  // its backward has returned: the remaining events, the gradients in the shards, all freed

  std::vector<at::Tensor> run(torch::nn::Module& unit, const std::vector<at::Tensor>& inputs,
                              const LayerFunction& fn) override;
  void skip(const std::vector<torch::nn::Module*>& units) override;
  std::vector<bool> any_rank(const std::vector<bool>& mine) override;

  // From the autograd graph: the gradient reached call k's outputs / left its inputs.
  void before_backward(size_t call);
  void after_backward(size_t call);

 private:
  struct Call {
    size_t unit;
    bool real;      // run on this rank (else a placeholder)
    bool has_exit;  // some input needs a gradient: after_backward() will come
    bool post_done = false;
  };
  void enter_forward(size_t unit);  // the unit gathered for its forward call, the next ones prefetched
  void leave_forward(size_t unit);
  void start_backward();
  void gather_until(int64_t call);
  void reduce_ready(bool flushing);

  ShardedWeights& weights_;
  bool reshard_;
  size_t forward_prefetch_, backward_prefetch_;
  std::vector<Call> calls_;
  std::vector<size_t> previous_units_;  // the units of the previous micro-batch's calls, in order
  bool follows_previous_ = true;        // this forward's calls so far are the previous one's
  std::vector<bool> gathered_;          // per unit: started (perhaps prefetched) and not released
  std::vector<int64_t> first_call_, last_call_;
  std::vector<int64_t> backward_gathers_;  // the calls where the backward gathers, in log order (descending)
  size_t gathers_started_ = 0, gathers_done_ = 0;
  bool backward_ = false;
  int64_t reduce_cursor_ = -1;
};

}  // namespace omnitune
