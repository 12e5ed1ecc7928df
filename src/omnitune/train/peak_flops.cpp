#include "omnitune/train/peak_flops.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/cuda/CUDAContext.h>
#include <torch/cuda.h>

#include <chrono>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

struct Datasheet {
  const char* name;
  double bf16, fp32;  // dense TFLOP/s (fp32 without TF32)
};
const Datasheet kGpus[] = {{"H200", 989.4, 66.9}, {"H100", 989.4, 66.9}, {"H800", 989.4, 66.9},
                           {"A100", 312.0, 19.5}, {"A800", 312.0, 19.5}, {"L40S", 362.1, 91.6}};

double measured(at::Device device, at::ScalarType dtype) {
  const int64_t n = device.is_cuda() ? 8192 : 1024;
  at::Tensor a = at::randn({n, n}, at::TensorOptions().device(device).dtype(dtype));
  at::Tensor b = at::randn({n, n}, a.options());
  at::Tensor c = at::matmul(a, b);  // warm-up
  if (device.is_cuda()) torch::cuda::synchronize();
  int reps = 0;
  auto t0 = std::chrono::steady_clock::now();
  double seconds = 0;
  while (seconds < 0.3 || reps < 3) {
    at::matmul_out(c, a, b);
    if (device.is_cuda()) torch::cuda::synchronize();
    ++reps;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return 2.0 * n * n * n * reps / seconds;
}

}  // namespace

PeakFlops peak_flops(at::Device device, at::ScalarType compute) {
  const bool half = compute == at::kBFloat16 || compute == at::kHalf;
  if (device.is_cuda()) {
    std::string name = at::cuda::getCurrentDeviceProperties()->name;
    for (const auto& gpu : kGpus)
      if (name.find(gpu.name) != std::string::npos)
        return {1e12 * (half ? gpu.bf16 : gpu.fp32), cat(gpu.name, " datasheet (", half ? "bf16" : "fp32", " dense)")};
  }
  return {measured(device, compute),
          cat("measured GEMM (", c10::toString(compute), ", ", at::get_num_threads(), " threads)")};
}

}  // namespace omnitune
