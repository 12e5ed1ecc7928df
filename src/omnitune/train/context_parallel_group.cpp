#include "omnitune/train/context_parallel_group.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

class ContextParallelGroup : public ContextParallelComm {
 public:
  explicit ContextParallelGroup(std::unique_ptr<Subgroup> group) : group_(std::move(group)) {}
  int64_t size() const override { return group_->size(); }
  int64_t rank() const override { return group_->rank(); }

  at::Tensor all_to_all(const at::Tensor& in) override {
    at::Tensor send = in.to(group_->device()).contiguous();  // the GPU with NCCL, the host with Gloo
    at::Tensor got = at::empty_like(send);
    group_->all_to_all(got, send, "exchanging attention heads for the sequence (context parallel)");
    return got.to(in.device());
  }

  void all_reduce_sum(at::Tensor& values) override {
    group_->all_reduce_sum(values, "summing the router's counts over the sequence (context parallel)");
  }

 private:
  std::unique_ptr<Subgroup> group_;
};

}  // namespace

std::shared_ptr<ContextParallelComm> context_parallel_group(ProcessGroup& job, int64_t cp) {
  const int64_t first = job.rank() / cp * cp;
  std::vector<int64_t> members;
  for (int64_t r = first; r < first + cp; ++r) members.push_back(r);
  return std::make_shared<ContextParallelGroup>(job.subgroup(cat("context_parallel_", first / cp), members));
}

}  // namespace omnitune
