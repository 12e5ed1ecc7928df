#include "omnitune/train/fsdp_runner.h"

#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CallState : torch::CustomClassHolder {
  FsdpRunner* runner = nullptr;
  size_t call = 0;
};

// Identity on a unit call's outputs (kEntry: its backward runs when their gradients are complete, before the
// unit's) or inputs (kExit: once the unit's backward has produced their gradients).
enum class Edge { kEntry, kExit };

template <Edge kEdge>
struct UnitEdge : public torch::autograd::Function<UnitEdge<kEdge>> {
  static variable_list forward(AutogradContext* ctx, at::TensorList tensors, const c10::intrusive_ptr<CallState>& s) {
    ctx->set_materialize_grads(false);
    ctx->saved_data["call"] = at::IValue::make_capsule(s);
    return tensors.vec();
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = c10::static_intrusive_pointer_cast<CallState>(ctx->saved_data["call"].toCapsule());
    if (kEdge == Edge::kEntry)
      s->runner->before_backward(s->call);
    else
      s->runner->after_backward(s->call);
    grads.emplace_back();
    return grads;
  }
};
using UnitEntry = UnitEdge<Edge::kEntry>;
using UnitExit = UnitEdge<Edge::kExit>;

// Applies F to the entries of `tensors` that need a gradient, in place.
template <class F>
bool wrap(std::vector<at::Tensor>& tensors, const c10::intrusive_ptr<CallState>& state) {
  std::vector<size_t> at;
  std::vector<at::Tensor> picked;
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].defined() && tensors[i].requires_grad()) at.push_back(i), picked.push_back(tensors[i]);
  if (picked.empty()) return false;
  variable_list out = F::apply(at::TensorList(picked), state);
  for (size_t k = 0; k < at.size(); ++k) tensors[at[k]] = out[k];
  return true;
}

}  // namespace

FsdpRunner::FsdpRunner(ShardedWeights& weights, const ShardingOptions& options)
    : weights_(weights),
      reshard_(options.reshard_after_forward),
      forward_prefetch_(static_cast<size_t>(std::max(0, options.forward_prefetch))),
      backward_prefetch_(static_cast<size_t>(std::max(0, options.backward_prefetch))),
      gathered_(weights.unit_count(), false) {}

void FsdpRunner::begin() {
  previous_units_.clear();
  for (const Call& c : calls_) previous_units_.push_back(c.unit);
  calls_.clear();
  backward_ = false;
  follows_previous_ = true;
  enter_forward(0);  // the root: gathered for the whole micro-batch
  calls_.push_back(Call{0, true, false});
}

// Call calls_.size() is about to use `unit`. Whether it was prefetched and what to prefetch next depend only
// on the logs, which are the same on every rank.
void FsdpRunner::enter_forward(size_t unit) {
  const size_t k = calls_.size();
  follows_previous_ = follows_previous_ && k < previous_units_.size() && previous_units_[k] == unit;
  if (!gathered_[unit]) weights_.start_gather(unit), gathered_[unit] = true;
  if (follows_previous_)
    for (size_t j = k + 1; j < previous_units_.size() && j <= k + forward_prefetch_; ++j)
      if (!gathered_[previous_units_[j]])
        weights_.start_gather(previous_units_[j]), gathered_[previous_units_[j]] = true;
  weights_.finish_gather(unit);
}

void FsdpRunner::leave_forward(size_t unit) {
  if (reshard_ && unit != 0) weights_.release(unit), gathered_[unit] = false;
}

std::vector<at::Tensor> FsdpRunner::run(torch::nn::Module& module, const std::vector<at::Tensor>& inputs,
                                        const LayerFunction& fn) {
  if (calls_.empty() || backward_)
    throw Error("internal: a wrapping unit ran outside the forward of a sharded micro-batch");
  const size_t unit = weights_.unit_of(module);
  auto state = c10::make_intrusive<CallState>();
  state->runner = this;
  state->call = calls_.size();
  enter_forward(unit);
  std::vector<at::Tensor> in = inputs;
  const bool has_exit = at::GradMode::is_enabled() && wrap<UnitExit>(in, state);
  calls_.push_back(Call{unit, true, has_exit});
  std::vector<at::Tensor> out = fn(in);
  if (at::GradMode::is_enabled()) wrap<UnitEntry>(out, state);
  leave_forward(unit);
  return out;
}

void FsdpRunner::skip(const std::vector<torch::nn::Module*>& units) {
  for (torch::nn::Module* module : units) {
    const size_t unit = weights_.unit_of(*module);
    enter_forward(unit);  // another rank runs it
    calls_.push_back(Call{unit, false, false});
    leave_forward(unit);
  }
}

std::vector<bool> FsdpRunner::any_rank(const std::vector<bool>& mine) {
  std::vector<bool> flags = mine;
  weights_.any_rank_max(flags, "agreeing which towers run");
  return flags;
}

void FsdpRunner::start_backward() {
  if (backward_) return;
  backward_ = true;
  first_call_.assign(weights_.unit_count(), -1);
  last_call_.assign(weights_.unit_count(), -1);
  for (int64_t k = 0; k < static_cast<int64_t>(calls_.size()); ++k) {
    const size_t u = calls_[k].unit;
    if (first_call_[u] < 0) first_call_[u] = k;
    last_call_[u] = k;
  }
  // A unit resharded after its forward is gathered again when the walk reaches its last call (whatever this
  // rank computes: the decision must be the same on every rank). The forward's unused prefetches are done.
  backward_gathers_.clear();
  for (int64_t k = static_cast<int64_t>(calls_.size()) - 1; k >= 0; --k)
    if (k == last_call_[calls_[k].unit] && reshard_ && calls_[k].unit != 0) backward_gathers_.push_back(k);
  gathers_started_ = gathers_done_ = 0;
  for (size_t u = 0; u < gathered_.size(); ++u) weights_.finish_gather(u);
  reduce_cursor_ = static_cast<int64_t>(calls_.size()) - 1;
}

// The backward's gathers of calls >= `call` finished, the next `backward_prefetch` started.
void FsdpRunner::gather_until(int64_t call) {
  auto start = [&](size_t g) {
    const size_t u = calls_[backward_gathers_[g]].unit;
    weights_.start_gather(u);
    gathered_[u] = true;
  };
  for (; gathers_done_ < backward_gathers_.size() && backward_gathers_[gathers_done_] >= call; ++gathers_done_) {
    if (gathers_started_ <= gathers_done_) start(gathers_started_++);
    weights_.finish_gather(calls_[backward_gathers_[gathers_done_]].unit);
  }
  for (; gathers_started_ < backward_gathers_.size() && gathers_started_ < gathers_done_ + backward_prefetch_;
       ++gathers_started_)
    start(gathers_started_);
}

void FsdpRunner::before_backward(size_t call) {
  start_backward();
  gather_until(static_cast<int64_t>(call));
}

void FsdpRunner::after_backward(size_t call) {
  start_backward();
  calls_[call].post_done = true;
  reduce_ready(false);
}

// The reduce-scatters, in log order: a unit's at its first call, once every call above it in the log has
// finished its backward here (a call whose inputs need no gradient can only be known finished at the end).
void FsdpRunner::reduce_ready(bool flushing) {
  for (; reduce_cursor_ >= 0; --reduce_cursor_) {
    const Call& c = calls_[reduce_cursor_];
    const bool pending = c.real && (c.has_exit ? !c.post_done : weights_.trains(c.unit));
    if (pending && !flushing) break;
    if (reduce_cursor_ != first_call_[c.unit]) continue;
    weights_.start_reduce(c.unit);
    bool gather_ahead = false;  // its backward gather not finished yet: finish() frees it
    for (size_t g = gathers_done_; g < backward_gathers_.size(); ++g)
      gather_ahead = gather_ahead || calls_[backward_gathers_[g]].unit == c.unit;
    if (gather_ahead) continue;
    weights_.release(c.unit);
    gathered_[c.unit] = false;
  }
  weights_.finish_reduces(/*wait=*/false);
}

void FsdpRunner::finish() {
  start_backward();
  gather_until(0);
  reduce_ready(/*flushing=*/true);
  weights_.finish_reduces(/*wait=*/true);
  weights_.check_no_stray_grads();
  for (size_t u = 0; u < weights_.unit_count(); ++u) weights_.release(u), gathered_[u] = false;
  backward_ = false;
}

}  // namespace omnitune
