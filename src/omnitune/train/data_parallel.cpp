#include "omnitune/train/data_parallel.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <functional>

#include "omnitune/core/error.h"

namespace omnitune {

DataParallel::DataParallel(const LaunchEnv& env, const JoinOptions& options)
    : group_(std::make_unique<ProcessGroup>(env, options)) {}

void DataParallel::sum(at::Tensor& values, const std::string& what) {
  if (group_) group_->all_reduce_sum(values, what);
}

double DataParallel::max(double value, const std::string& what) {
  if (!group_) return value;
  at::Tensor t = at::full({1}, value, at::kDouble);
  group_->all_reduce_max(t, what);
  return t.item<double>();
}

void DataParallel::sum_grads(std::vector<at::Tensor>& grads, std::vector<uint8_t>& has_grad, at::ScalarType reduce) {
  if (!group_ || grads.empty()) return;
  std::vector<at::Tensor> flat;
  for (const auto& g : grads) flat.push_back(g.reshape({-1}));
  // [sum of numel]: one transfer in the reduce dtype, where the job's collectives run (GPU with NCCL, host with Gloo).
  at::Tensor buffer = at::cat(flat).to(group_->device(), reduce).contiguous();
  group_->all_reduce_sum(buffer, "summing the gradients");
  int64_t offset = 0;
  for (auto& g : grads) {
    g.copy_(buffer.narrow(0, offset, g.numel()).view(g.sizes()));
    offset += g.numel();
  }
  at::Tensor flags = at::tensor(std::vector<double>(has_grad.begin(), has_grad.end()), at::kDouble);
  group_->all_reduce_sum(flags, "agreeing which parameters got a gradient");
  const double* f = flags.data_ptr<double>();
  for (size_t i = 0; i < has_grad.size(); ++i) has_grad[i] = f[i] > 0 ? 1 : 0;
}

void DataParallel::barrier(const std::string& what) {
  if (group_) group_->barrier(what);
}

void DataParallel::leave() {
  if (group_) group_->leave("finishing the job");
}

std::string DataParallel::from_rank0(const std::string& value, const std::string& what) {
  if (!group_) return value;
  return group_->exchange(cat("from_rank0/", what), value)[0];
}

void DataParallel::check_started(const std::string& failure) {
  if (!group_) return;
  const std::vector<std::string> all = group_->exchange("start", failure);
  if (!failure.empty()) throw Error(failure);
  for (int64_t r = 0; r < size(); ++r)
    if (!all[r].empty()) throw Error(cat("rank ", r, " could not start: ", all[r]));
}

void DataParallel::check_same(const std::vector<std::pair<std::string, std::string>>& parts) {
  if (!group_) return;
  // One fixed-width hex digest a part, so that part k is characters [16k, 16k + 16) of every rank's string.
  std::string digest;
  for (const auto& [name, text] : parts) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016zx", std::hash<std::string>{}(text));
    digest += hex;
  }
  const std::vector<std::string> all = group_->exchange("config_digest", digest);
  std::string differs;
  for (int64_t r = 1; r < size(); ++r)
    for (size_t k = 0; k < parts.size(); ++k)
      if (all[r].compare(16 * k, 16, all[0], 16 * k, 16) != 0)
        differs += cat(differs.empty() ? "" : "; ", "rank ", r, "'s ", parts[k].first);
  if (!differs.empty())
    throw Error(cat("the ranks were not started alike: ", differs,
                    " differ from rank 0's. Start every rank with the same files, flags and omnitune build"));
}

}  // namespace omnitune
