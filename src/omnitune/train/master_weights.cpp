#include "omnitune/train/master_weights.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "omnitune/train/data_parallel.h"
#include "omnitune/train/train_step.h"

namespace omnitune {

MasterWeights::MasterWeights(torch::nn::Module& model, at::ScalarType compute, const std::set<std::string>& frozen)
    : compute_(compute) {
  at::NoGradGuard no_grad;
  for (auto& item : model.named_parameters(/*recurse=*/true)) {
    at::Tensor& p = item.value();
    const bool trains = !frozen.count(item.key());
    at::Tensor master = compute == at::kFloat ? p : p.detach().clone();
    if (compute != at::kFloat) p.set_data(p.to(compute));
    p.set_requires_grad(trains);
    all_.emplace_back(item.key(), master);
    if (trains) {
      trainable_.emplace_back(item.key(), master);
      model_params_.push_back(p);
      grads_.push_back(at::zeros_like(master));
    }
  }
  has_grad_.assign(grads_.size(), 0);
}

int64_t MasterWeights::trainable_numel() const {
  int64_t n = 0;
  for (const auto& [name, t] : trainable_) n += t.numel();
  return n;
}

void MasterWeights::accumulate_grads() {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < model_params_.size(); ++i) {
    at::Tensor& g = model_params_[i].mutable_grad();
    if (!g.defined()) continue;  // got no gradient this micro-batch (e.g. no image in it)
    grads_[i].add_(g);
    has_grad_[i] = 1;
    g = at::Tensor();
  }
}

void MasterWeights::zero_grads() {
  for (auto& g : grads_) g.zero_();
  std::fill(has_grad_.begin(), has_grad_.end(), 0);
}

void MasterWeights::publish() {
  if (compute_ == at::kFloat) return;
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < model_params_.size(); ++i) model_params_[i].copy_(trainable_[i].second);
}

void MasterWeights::reduce_grads(DataParallel& dp, at::ScalarType reduce) { dp.sum_grads(grads_, has_grad_, reduce); }

at::Tensor MasterWeights::clip_grads(double max_norm) { return clip_grad_norm(grads_, max_norm); }

}  // namespace omnitune
