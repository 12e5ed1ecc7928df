#include "omnitune/train/adamw.h"

#include <ATen/ATen.h>

#include <cmath>
#include <map>

#include "omnitune/core/error.h"

namespace omnitune {

AdamW::AdamW(NamedTensors params, AdamWOptions options) : params_(std::move(params)), options_(options) {}

void AdamW::step(double lr, const std::vector<at::Tensor>& grads) {
  if (grads.size() != params_.size()) throw Error(cat("AdamW: ", grads.size(), " gradients for ", params_.size(), " parameters"));
  if (exp_avg_.empty()) {
    for (const auto& [name, p] : params_) {
      exp_avg_.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
      exp_avg_sq_.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
    }
  }
  ++steps_;
  const double step = static_cast<double>(steps_);
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, step);
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(options_.beta2, step));
  const double step_size = lr / bias_correction1;
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
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
    out.emplace_back("exp_avg." + params_[i].first, exp_avg_[i]);
    out.emplace_back("exp_avg_sq." + params_[i].first, exp_avg_sq_[i]);
  }
  return out;
}

void AdamW::load_state(const NamedTensors& state, int64_t steps, const std::string& where) {
  if (state.empty() && steps == 0) return;  // saved before the first step
  std::map<std::string, at::Tensor> by_name(state.begin(), state.end());
  std::vector<at::Tensor> avg, avg_sq;
  std::string problems;
  int64_t bad = 0;
  for (const auto& [name, p] : params_) {
    for (const char* kind : {"exp_avg.", "exp_avg_sq."}) {
      auto it = by_name.find(kind + name);
      if (it == by_name.end() || it->second.sizes() != p.sizes()) {
        if (++bad <= 10)
          problems += cat("\n  ", kind, name, it == by_name.end() ? ": missing" : cat(": shape ", it->second.sizes(), ", expected ", p.sizes()));
        continue;
      }
      (std::string(kind) == "exp_avg." ? avg : avg_sq).push_back(it->second.to(p.options()).clone());
      by_name.erase(it);
    }
  }
  for (const auto& [name, t] : by_name)
    if (++bad <= 10) problems += cat("\n  ", name, ": not a trainable parameter of this run");
  if (bad > 0)
    throw Error(cat(where, ": the optimizer state does not match the trainable parameters (", bad, " problems; a different "
                    "model or different frozen towers? --no-load-optim starts a fresh optimizer):", problems));
  exp_avg_ = std::move(avg);
  exp_avg_sq_ = std::move(avg_sq);
  steps_ = steps;
}

}  // namespace omnitune
