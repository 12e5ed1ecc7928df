// bench/recompute_memory: memory of one forward+backward of the thinker with per-tower activation
// recompute / offload. Weights are random (init_thinker_weights), the batch is a safetensors file with the
// HF forward argument names. Prints one JSON line: the process's peak RSS, its RSS before the step (weights
// + batch), and on an accelerator the device's allocated bytes before the step, at its peak and after the
// forward, plus the offload counters. Run each configuration in its own process (bench/recompute_memory.py).
//   recompute_memory <config dir> <batch.safetensors> [--recompute TOWERS] [--offload TOWERS]
//                    [--device cpu|cuda] [--loss-chunk N]      TOWERS: audio,vision,text (any) or all
#include <ATen/ATen.h>
#include <ATen/DeviceAccelerator.h>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/model/hf_checkpoint.h"
#include "omnitune/model/thinker_inputs_file.h"

using namespace omnitune;

namespace {

double resident_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

double device_mb(const at::Device& device, bool peak) {
  const auto stats = at::accelerator::getDeviceStats(device.index());
  const auto& allocated = stats.allocated_bytes[0];
  return static_cast<double>(peak ? allocated.peak : allocated.current) / (1 << 20);
}

// "audio,vision,text" (any subset) or "all": sets `field` of the towers named.
void set_towers(ThinkerRunOptions& run, const std::string& spec, bool ActivationMemory::*field) {
  for (size_t start = 0; start <= spec.size();) {
    size_t comma = std::min(spec.find(',', start), spec.size());
    std::string name = spec.substr(start, comma - start);
    bool all = name == "all";
    if (!all && name != "audio" && name != "vision" && name != "text") throw Error("unknown tower '" + name + "'");
    if (all || name == "audio") run.audio_activations.*field = run.audio_activations.recompute = true;
    if (all || name == "vision") run.vision_activations.*field = run.vision_activations.recompute = true;
    if (all || name == "text") run.text_activations.*field = run.text_activations.recompute = true;
    start = comma + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: recompute_memory <config dir> <batch.safetensors> [--recompute T] [--offload T] "
                 "[--device cpu|cuda] [--loss-chunk N]\n");
    return 2;
  }
  try {
    ThinkerRunOptions run;
    at::Device device = at::kCPU;
    for (int i = 3; i + 1 < argc; i += 2) {
      std::string flag = argv[i], value = argv[i + 1];
      if (flag == "--recompute")
        set_towers(run, value, &ActivationMemory::recompute);
      else if (flag == "--offload")
        set_towers(run, value, &ActivationMemory::offload);
      else if (flag == "--device")
        device = at::Device(value);
      else if (flag == "--loss-chunk")
        run.loss_chunk_rows = std::stoll(value);
      else
        throw Error("unknown option " + flag);
    }
    if (device.is_cuda() && !device.has_index()) device.set_index(0);

    Thinker thinker(load_thinker_config(argv[1]), run);
    init_thinker_weights(*thinker, 1);
    thinker->to(device);
    ThinkerInputs in = read_thinker_inputs(argv[2], device);

    const bool accelerator = !device.is_cpu();
    if (accelerator) at::accelerator::synchronizeDevice(device.index());
    const double rss_before = resident_mb(), device_before = accelerator ? device_mb(device, false) : 0;
    if (accelerator) at::accelerator::resetPeakStats(device.index());
    reset_offload_stats();
    auto start = std::chrono::steady_clock::now();
    at::Tensor loss = thinker->forward(in).loss;
    if (accelerator) at::accelerator::synchronizeDevice(device.index());
    const double device_after_forward = accelerator ? device_mb(device, false) : 0;
    loss.backward();
    if (accelerator) at::accelerator::synchronizeDevice(device.index());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    const OffloadStats stats = offload_stats();
    std::printf("{\"loss\": %.9g, \"ms\": %.0f, \"peak_rss_mb\": %.1f, \"rss_before_mb\": %.1f", loss.item<double>(),
                ms, static_cast<double>(usage.ru_maxrss) / 1024, rss_before);
    if (accelerator)
      std::printf(", \"device_before_mb\": %.1f, \"device_peak_mb\": %.1f, \"device_after_forward_mb\": %.1f",
                  device_before, device_mb(device, true), device_after_forward);
    std::printf(", \"offloaded\": %lld, \"offloaded_mb\": %.1f, \"prefetched\": %lld, \"on_demand\": %lld}\n",
                static_cast<long long>(stats.offloaded), static_cast<double>(stats.offloaded_bytes) / (1 << 20),
                static_cast<long long>(stats.prefetched), static_cast<long long>(stats.on_demand));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
