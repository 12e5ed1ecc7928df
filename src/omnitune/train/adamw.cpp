#include "omnitune/train/adamw.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {
constexpr const char* kExpAvg = "exp_avg.";
constexpr const char* kExpAvgSq = "exp_avg_sq.";
constexpr const char* kStep = "step.";
}  // namespace

AdamW::AdamW(NamedTensors params, AdamWOptions options)
    : params_(std::move(params)), options_(options), param_steps_(params_.size(), 0) {}

void AdamW::step(double lr, const std::vector<at::Tensor>& grads, const std::vector<uint8_t>& has_grad) {
  if (grads.size() != params_.size())
    throw Error(cat("AdamW: ", grads.size(), " gradients for ", params_.size(), " parameters"));
  if (!has_grad.empty() && has_grad.size() != params_.size())
    throw Error(cat("AdamW: ", has_grad.size(), " gradient flags for ", params_.size(), " parameters"));
  if (exp_avg_.empty()) {
    for (const auto& [name, p] : params_) {
      exp_avg_.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
      exp_avg_sq_.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
    }
  }
  ++steps_;
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!has_grad.empty() && !has_grad[i]) continue;
    const double step = static_cast<double>(++param_steps_[i]);
    const double bias_correction1 = 1.0 - std::pow(options_.beta1, step);
    const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(options_.beta2, step));
    const double step_size = lr / bias_correction1;
    at::Tensor& param = params_[i].second;
    const at::Tensor& grad = grads[i];
    if (options_.weight_decay != 0) param.mul_(1.0 - lr * options_.weight_decay);
    exp_avg_[i].lerp_(grad, 1.0 - options_.beta1);
    exp_avg_sq_[i].mul_(options_.beta2).addcmul_(grad, grad, 1.0 - options_.beta2);
    at::Tensor denom = (exp_avg_sq_[i].sqrt() / bias_correction2_sqrt).add_(options_.eps);
    param.addcdiv_(exp_avg_[i], denom, -step_size);
  }
}

NamedTensors AdamW::state() const {
  NamedTensors out;
  for (size_t i = 0; i < exp_avg_.size(); ++i) {
    out.emplace_back(kExpAvg + params_[i].first, exp_avg_[i]);
    out.emplace_back(kExpAvgSq + params_[i].first, exp_avg_sq_[i]);
    out.emplace_back(kStep + params_[i].first, at::scalar_tensor(param_steps_[i], at::kLong));
  }
  return out;
}

std::string AdamW::param_of(const std::string& state_name) {
  for (const char* kind : {kExpAvgSq, kExpAvg, kStep}) {
    const std::string prefix = kind;
    if (state_name.rfind(prefix, 0) == 0) return state_name.substr(prefix.size());
  }
  return "";
}

void AdamW::load_state(const NamedTensors& state, int64_t steps, const std::string& where) {
  if (state.empty() && steps == 0) return;  // saved before the first step
  std::map<std::string, at::Tensor> by_name(state.begin(), state.end());
  const bool per_param_steps = !params_.empty() && by_name.count(kStep + params_.front().first) > 0;
  std::vector<at::Tensor> avg, avg_sq;
  std::vector<int64_t> counts;
  std::string problems;
  int64_t bad = 0;
  auto problem = [&](const std::string& text) {
    if (++bad <= 10) problems += "\n  " + text;
  };
  for (const auto& [name, p] : params_) {
    for (const char* kind : {kExpAvg, kExpAvgSq}) {
      auto it = by_name.find(kind + name);
      if (it == by_name.end() || it->second.sizes() != p.sizes()) {
        problem(cat(kind, name,
                    it == by_name.end() ? ": missing" : cat(": shape ", it->second.sizes(), ", expected ", p.sizes())));
        continue;
      }
      (kind == kExpAvg ? avg : avg_sq).push_back(it->second.to(p.options()).clone());
      by_name.erase(it);
    }
    if (!per_param_steps) {
      counts.push_back(steps);
      continue;
    }
    auto it = by_name.find(kStep + name);
    if (it == by_name.end() || it->second.numel() != 1) {
      problem(cat(kStep, name, it == by_name.end() ? ": missing" : ": not a single step count"));
      continue;
    }
    const int64_t count = it->second.item<int64_t>();
    if (count < 0 || count > steps) problem(cat(kStep, name, ": ", count, " steps, outside [0, ", steps, "]"));
    counts.push_back(count);
    by_name.erase(it);
  }
  for (const auto& [name, t] : by_name) problem(cat(name, ": not a trainable parameter of this run"));
  if (bad > 0)
    throw Error(cat(where, ": the optimizer state does not match the trainable parameters (", bad,
                    " problems; a different "
                    "model or different frozen towers? --no-load-optim starts a fresh optimizer):",
                    problems));
  exp_avg_ = std::move(avg);
  exp_avg_sq_ = std::move(avg_sq);
  param_steps_ = std::move(counts);
  steps_ = steps;
}

}  // namespace omnitune
