#include "omnitune/train/data_parallel.h"

#include <ATen/ATen.h>

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
  // [sum of numel]: one transfer, on the CPU (Gloo), in the reduce dtype.
  at::Tensor buffer = at::cat(flat).to(at::kCPU, reduce).contiguous();
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
  std::string digest;
  for (const auto& [name, text] : parts) digest += cat(std::hash<std::string>{}(text), ",");
  const std::vector<std::string> all = group_->exchange("config_digest", digest);
  std::string differs;
  for (int64_t r = 1; r < size(); ++r) {
    if (all[r] == all[0]) continue;
    // The digests are "h1,h2,...": compare part by part to name what differs.
    size_t a = 0, b = 0;
    for (const auto& [name, text] : parts) {
      const size_t ea = all[0].find(',', a), eb = all[r].find(',', b);
      if (all[0].substr(a, ea - a) != all[r].substr(b, eb - b))
        differs += cat(differs.empty() ? "" : "; ", "rank ", r, "'s ", name);
      a = ea + 1, b = eb + 1;
    }
  }
  if (!differs.empty())
    throw Error(cat("the ranks were not started alike: ", differs,
                    " differ from rank 0's. Start every rank with the same files, flags and omnitune build"));
}

}  // namespace omnitune
