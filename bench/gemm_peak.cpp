// bench/gemm_peak: this machine's dense GEMM throughput through libtorch — the roofline every MFU
// figure is quoted against. For each dtype and size: best GFLOP/s of at::mm over `--seconds` of
// repeats (after a warm-up), on the CPU with all cores and, when present, on each CUDA device.
// Prints a table and one JSON line per measurement ("peak" = best size per device and dtype).
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void sync(const at::Device& device) {
  if (device.is_cuda()) at::detail::getCUDAHooks().deviceSynchronize(device.index());
}

double best_gflops(int64_t n, at::ScalarType dtype, const at::Device& device, double seconds) {
  auto options = at::TensorOptions().dtype(dtype).device(device);
  at::Tensor a = at::randn({n, n}, options), b = at::randn({n, n}, options), c = at::empty({n, n}, options);
  at::mm_out(c, a, b);  // warm-up
  sync(device);
  double flops = 2.0 * n * n * n, best = 0, start = now_s();
  int reps = device.is_cuda() ? 20 : 1;
  do {
    double t0 = now_s();
    for (int r = 0; r < reps; ++r) at::mm_out(c, a, b);
    sync(device);
    double dt = (now_s() - t0) / reps;
    best = std::max(best, flops / dt / 1e9);
  } while (now_s() - start < seconds);
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  std::vector<int64_t> sizes = {512, 1024, 2048};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--large"))
      sizes = {1024, 2048, 4096, 8192};
    else {
      std::fprintf(stderr, "usage: gemm_peak [--seconds S] [--large]\n");
      return 2;
    }
  }
  at::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<at::Device> devices = {at::Device(at::kCPU)};
  for (int d = 0; at::hasCUDA() && d < static_cast<int>(at::getNumGPUs()); ++d) devices.emplace_back(at::kCUDA, d);

  std::printf("%-8s %-6s %6s %12s\n", "device", "dtype", "n", "GFLOP/s");
  for (const auto& device : devices) {
    for (auto dtype : {at::kFloat, at::kBFloat16}) {
      double peak = 0;
      int64_t peak_n = 0;
      for (int64_t n : device.is_cuda() ? std::vector<int64_t>{4096, 8192} : sizes) {
        double g = best_gflops(n, dtype, device, seconds);
        std::printf("%-8s %-6s %6ld %12.1f\n", device.str().c_str(), dtype == at::kFloat ? "fp32" : "bf16", n, g);
        if (g > peak) peak = g, peak_n = n;
      }
      std::printf("{\"device\": \"%s\", \"dtype\": \"%s\", \"threads\": %d, \"n\": %ld, \"peak_gflops\": %.1f}\n",
                  device.str().c_str(), dtype == at::kFloat ? "fp32" : "bf16", at::get_num_threads(), peak_n, peak);
    }
  }
  return 0;
}
