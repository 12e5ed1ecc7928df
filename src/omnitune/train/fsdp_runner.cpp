#include "omnitune/train/fsdp_runner.h"

#include <torch/csrc/autograd/custom_function.h>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CallState : torch::CustomClassHolder {
  FsdpRunner* runner = nullptr;
  size_t call = 0;
};

c10::intrusive_ptr<CallState> state_of(AutogradContext* ctx) {
  return c10::static_intrusive_pointer_cast<CallState>(ctx->saved_data["call"].toCapsule());
}

// Identity on a unit call's outputs: its backward runs when their gradients are complete, before the unit's.
struct UnitEntry : public torch::autograd::Function<UnitEntry> {
  static variable_list forward(AutogradContext* ctx, at::TensorList outputs, const c10::intrusive_ptr<CallState>& s) {
    ctx->set_materialize_grads(false);
    ctx->saved_data["call"] = at::IValue::make_capsule(s);
    return outputs.vec();
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = state_of(ctx);
    s->runner->before_backward(s->call);
    grads.emplace_back();
    return grads;
  }
};

// Identity on a unit call's inputs: its backward runs once the unit's backward has produced their gradients.
struct UnitExit : public torch::autograd::Function<UnitExit> {
  static variable_list forward(AutogradContext* ctx, at::TensorList inputs, const c10::intrusive_ptr<CallState>& s) {
    ctx->set_materialize_grads(false);
    ctx->saved_data["call"] = at::IValue::make_capsule(s);
    return inputs.vec();
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = state_of(ctx);
    s->runner->after_backward(s->call);
    grads.emplace_back();
    return grads;
  }
};

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

FsdpRunner::FsdpRunner(ShardedWeights& weights, bool reshard_after_forward)
    : weights_(weights), reshard_(reshard_after_forward), gathered_(weights.unit_count(), false) {}

void FsdpRunner::forward_gather(size_t unit) {
  if (gathered_[unit]) return;
  weights_.gather(unit);
  gathered_[unit] = true;
}

void FsdpRunner::begin() {
  calls_.clear();
  backward_ = false;
  calls_.push_back(Call{0, true, false});  // the root: gathered for the whole micro-batch
  forward_gather(0);
}

std::vector<at::Tensor> FsdpRunner::run(torch::nn::Module& module, const std::vector<at::Tensor>& inputs,
                                        const LayerFunction& fn) {
  if (calls_.empty() || backward_)
    throw Error("internal: a wrapping unit ran outside the forward of a sharded micro-batch");
  const size_t unit = weights_.unit_of(module);
  auto state = c10::make_intrusive<CallState>();
  state->runner = this;
  state->call = calls_.size();
  forward_gather(unit);
  std::vector<at::Tensor> in = inputs;
  const bool has_exit = at::GradMode::is_enabled() && wrap<UnitExit>(in, state);
  calls_.push_back(Call{unit, true, has_exit});
  std::vector<at::Tensor> out = fn(in);
  if (at::GradMode::is_enabled()) wrap<UnitEntry>(out, state);
  if (reshard_) weights_.release(unit), gathered_[unit] = false;
  return out;
}

void FsdpRunner::skip(const std::vector<torch::nn::Module*>& units) {
  for (torch::nn::Module* module : units) {
    const size_t unit = weights_.unit_of(*module);
    calls_.push_back(Call{unit, false, false});
    forward_gather(unit);  // another rank runs it
    if (reshard_) weights_.release(unit), gathered_[unit] = false;
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
  gather_cursor_ = reduce_cursor_ = static_cast<int64_t>(calls_.size()) - 1;
}

// The backward's gathers, in log order down to `call`: a unit resharded after its forward is gathered when
// the walk reaches its last call (whatever this rank computes: the decision must be the same on every rank).
void FsdpRunner::gather_until(int64_t call) {
  for (; gather_cursor_ >= call && gather_cursor_ >= 0; --gather_cursor_) {
    const size_t u = calls_[gather_cursor_].unit;
    if (gather_cursor_ != last_call_[u] || !reshard_ || u == 0) continue;
    weights_.gather(u);
    gathered_[u] = true;
  }
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
    if (gather_cursor_ >= last_call_[c.unit]) continue;  // its backward gather is still to come: finish() frees
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
  calls_.clear();
  backward_ = false;
}

}  // namespace omnitune
