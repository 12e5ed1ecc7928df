// bench/context_parallel_memory: the memory one context-parallel rank needs for one LLM decoder layer of a
// config — a slice of the real model (layer 0, MoE) — in bf16: forward and backward of `s` tokens per rank with
// the Ulysses exchanges of a group of CP ranks. The exchanges loop back (each all-to-all returns a copy of what
// it sends: the shapes and buffers of a real rank, not its values), so one process measures one rank. Memory is
// the heap in use (glibc mallinfo2, sampled every 0.2 ms by a thread), not RSS: freed blocks do not count.
// Prints one JSON line, in MB: the heap held after the forward above the heap before it (what autograd keeps
// for the backward without recompute), the peak above it (the layer's working set, its parameter gradients
// included), the parameter gradients alone, and the CPU attention's [S, S] causal mask (S = CP * s; a GPU's
// flash attention takes none).
//   context_parallel_memory <config dir> <cp> <tokens per rank>
#include <ATen/ATen.h>

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "omnitune/core/error.h"
#include "omnitune/model/config.h"
#include "omnitune/model/context_parallel.h"
#include "omnitune/model/text_decoder.h"

using namespace omnitune;

namespace {

class LoopbackGroup : public ContextParallelComm {
 public:
  explicit LoopbackGroup(int64_t size) : size_(size) {}
  int64_t size() const override { return size_; }
  int64_t rank() const override { return 0; }
  at::Tensor all_to_all(const at::Tensor& in) override { return in.clone(); }
  void all_reduce_sum(at::Tensor&) override {}

 private:
  int64_t size_;
};

double heap_mb() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd) / (1 << 20);
}

// The largest heap_mb() seen while it lives.
class HeapPeak {
 public:
  HeapPeak()
      : thread_([this] {
          while (!stop_) {
            const double now = heap_mb();
            if (now > peak_) peak_ = now;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
        }) {}
  ~HeapPeak() { stop(); }
  double stop() {
    if (!stop_.exchange(true)) thread_.join();
    return std::max(peak_.load(), heap_mb());
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<double> peak_{0};
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: context_parallel_memory <config dir> <cp> <tokens per rank>\n");
    return 2;
  }
  try {
    const TextConfig text = load_thinker_config(argv[1]).text;
    const int64_t cp = std::stoll(argv[2]), tokens = std::stoll(argv[3]);
    check_ulysses_heads(text.num_attention_heads, text.num_key_value_heads, cp, "text decoder");
    at::manual_seed(1);
    DecoderLayer layer(text, 0);
    {
      at::NoGradGuard no_grad;
      for (auto& p : layer->parameters()) p.normal_(0, 0.02);
    }
    layer->to(at::kBFloat16);
    double grads_mb = 0;
    for (const auto& p : layer->parameters()) grads_mb += static_cast<double>(p.numel()) * 2 / (1 << 20);

    LoopbackGroup group(cp);
    TextRunOptions options;
    options.context_parallel = &group;
    at::Tensor x = (at::randn({1, tokens, text.hidden_size}) * 0.5).to(at::kBFloat16).requires_grad_(true);
    at::Tensor positions = at::arange(tokens).view({1, 1, tokens}).expand({3, 1, tokens});
    auto [cos, sin] = mrope_cos_sin(text, positions, at::kBFloat16);
    const double before = heap_mb();
    double after_forward = 0, peak = 0;
    {
      HeapPeak watch;
      at::Tensor router;
      at::Tensor out = layer->forward(x, cos, sin, at::Tensor(), options, &router);
      after_forward = heap_mb();
      out.to(at::kFloat).sum().backward();
      peak = watch.stop();
    }
    const double mask_mb = static_cast<double>(cp * tokens) * static_cast<double>(cp * tokens) / (1 << 20);
    std::printf(
        "{\"cp\": %lld, \"tokens_per_rank\": %lld, \"saved_mb\": %.1f, \"peak_mb\": %.1f, \"grads_mb\": %.1f, "
        "\"mask_mb\": %.1f}\n",
        static_cast<long long>(cp), static_cast<long long>(tokens), after_forward - before, peak - before, grads_mb,
        mask_mb);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
