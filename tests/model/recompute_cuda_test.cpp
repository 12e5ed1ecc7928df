// The accelerator path of recompute + activation offload (pinned host copies on a side stream). Runs where a
// CUDA device exists, skipped elsewhere: gradients equal the plain stack's, and the device memory held
// between forward and backward shrinks from plain to recompute to offload.
#include <ATen/ATen.h>
#include <ATen/DeviceAccelerator.h>
#include <gtest/gtest.h>

#include "omnitune/model/layers.h"
#include "omnitune/model/recompute.h"

namespace omnitune {

TEST(RecomputeCuda, OffloadKeepsGradientsAndFreesDeviceMemory) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const at::Device device(at::kCUDA, 0);
  const int64_t layers = 6, rows = 4096, width = 1024;  // each layer input: 16 MiB in fp32
  at::manual_seed(0);
  std::vector<Linear> stack;
  for (int64_t i = 0; i < layers; ++i) {
    stack.emplace_back(width, width, true);
    stack.back()->to(device);
    at::NoGradGuard no_grad;
    for (auto& p : stack.back()->parameters()) p.normal_(0, 0.03);
  }
  at::Tensor x = at::randn({rows, width}, device).requires_grad_(true);

  struct Result {
    std::vector<at::Tensor> grads;
    int64_t held = 0;  // device bytes allocated after the forward, beyond those before it
  };
  auto run = [&](ActivationMemory mode) {
    for (auto& layer : stack) layer->zero_grad();
    x.mutable_grad() = at::Tensor();
    at::accelerator::synchronizeDevice(0);
    const int64_t before = at::accelerator::getDeviceStats(0).allocated_bytes[0].current;
    auto offload = mode.offload ? std::make_shared<ActivationOffload>(layers) : nullptr;
    at::Tensor h = x;
    for (auto& layer : stack) {
      auto fn = [layer = layer.ptr()](const std::vector<at::Tensor>& in) {
        return std::vector<at::Tensor>{at::gelu(layer->forward(in[0]))};
      };
      h = mode.any() ? recompute(fn, {h}, layer->parameters(), offload)[0] : fn({h})[0];
    }
    at::accelerator::synchronizeDevice(0);
    Result result;
    result.held = at::accelerator::getDeviceStats(0).allocated_bytes[0].current - before;
    h.pow(2).mean().backward();
    result.grads.push_back(x.grad().cpu());
    for (auto& layer : stack) result.grads.push_back(layer->weight.grad().cpu());
    return result;
  };

  Result plain = run({false, false}), recomputed = run({true, false});
  reset_offload_stats();
  Result offloaded = run({true, true});
  for (const Result* r : {&recomputed, &offloaded})
    for (size_t i = 0; i < plain.grads.size(); ++i)
      EXPECT_TRUE(at::allclose(r->grads[i], plain.grads[i], 1e-5, 1e-7)) << "gradient " << i;
  EXPECT_LT(recomputed.held, plain.held);
  EXPECT_LT(offloaded.held, recomputed.held);
  const OffloadStats stats = offload_stats();
  EXPECT_EQ(stats.offloaded, layers - 1);
  EXPECT_EQ(stats.prefetched, layers - 1);
  std::printf("device bytes held after the forward: plain %lld, recompute %lld, offload %lld\n",
              static_cast<long long>(plain.held), static_cast<long long>(recomputed.held),
              static_cast<long long>(offloaded.held));
}

}  // namespace omnitune
