#include "omnitune/train/distributed_optimizer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "omnitune/train/adamw.h"

namespace omnitune {

OptimizerShard::OptimizerShard(const NamedTensors& trainable, int64_t rank, int64_t ranks)
    : owner_(trainable.size()), rank_(rank) {
  std::vector<size_t> order(trainable.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return trainable[a].second.numel() > trainable[b].second.numel(); });
  std::vector<int64_t> load(static_cast<size_t>(ranks), 0);
  for (size_t i : order) {
    const auto least = static_cast<int64_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner_[i] = least;
    load[static_cast<size_t>(least)] += trainable[i].second.numel();
  }
  for (size_t i = 0; i < trainable.size(); ++i) {
    names_.push_back(trainable[i].first);
    if (owner_[i] == rank) owned_.push_back(i);
  }
}

NamedTensors OptimizerShard::owned_state(const NamedTensors& state) const {
  std::map<std::string, int64_t> owner;
  for (size_t i = 0; i < names_.size(); ++i) owner[names_[i]] = owner_[i];
  NamedTensors out;
  for (const auto& entry : state) {
    auto it = owner.find(AdamW::param_of(entry.first));
    if (it == owner.end() || it->second == rank_) out.push_back(entry);
  }
  return out;
}

void OptimizerShard::share_updated(const NamedTensors& trainable, DataParallel& dp) const {
  // [sum of numel] fp32 on the CPU: the owned masters, zeros elsewhere; the sum over the ranks is every master.
  int64_t total = 0;
  for (const auto& [name, p] : trainable) total += p.numel();
  at::Tensor buffer = at::zeros({total}, at::kFloat);
  at::NoGradGuard no_grad;
  int64_t offset = 0;
  for (size_t i = 0; i < trainable.size(); ++i) {
    const at::Tensor& p = trainable[i].second;
    if (owner_[i] == rank_) buffer.narrow(0, offset, p.numel()).copy_(p.reshape({-1}));
    offset += p.numel();
  }
  dp.sum(buffer, "sharing the updated weights");
  offset = 0;
  for (size_t i = 0; i < trainable.size(); ++i) {
    const at::Tensor& p = trainable[i].second;
    if (owner_[i] != rank_) p.copy_(buffer.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
}

}  // namespace omnitune
