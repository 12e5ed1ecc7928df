// bench/thinker_step: forward+backward time of the thinker on one batch (HF forward argument names in
// a safetensors file), after one warm-up step. Prints one JSON line: ms per step and tokens/s.
//   thinker_step <hf model dir> <batch.safetensors> [iters] [attn] [layout] [moe] [loss chunk rows (1024; 0 = full
//   logits)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <cstdlib>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "omnitune/core/error.h"
#include "omnitune/model/hf_checkpoint.h"
#include "omnitune/model/thinker_inputs_file.h"

using namespace omnitune;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(
        stderr,
        "usage: thinker_step <model dir> <batch.safetensors> [iters] [attn] [layout] [moe] [loss chunk rows]\n");
    return 2;
  }
  try {
    int iters = argc > 3 ? std::stoi(argv[3]) : 3;
    ThinkerRunOptions run;
    AttentionBackend backend{parse_attn_impl(argc > 4 ? argv[4] : "sdpa", "attn"),
                             parse_attn_layout(argc > 5 ? argv[5] : "BNSD", "layout")};
    run.text_attention = run.vision_attention = run.audio_attention = backend;
    run.moe = parse_moe_impl(argc > 6 ? argv[6] : "grouped", "moe");
    run.loss_chunk_rows = argc > 7 ? std::stoll(argv[7]) : 1024;  // 0 = full logits, as the reference
    at::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));

    Thinker thinker(load_thinker_config(argv[1]), run);
    load_hf_thinker(*thinker, argv[1]);
    ThinkerInputs in = read_thinker_inputs(argv[2]);
    auto step = [&] {
      thinker->zero_grad();
      thinker->forward(in).loss.backward();
    };
    step();                                                     // warm-up
    if (const char* trace = std::getenv("OMNITUNE_PROFILE")) {  // a Chrome trace of one step
      torch::autograd::profiler::RecordProfile profile(trace);
      step();
    }
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) step();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
    double tokens = static_cast<double>(in.attention_mask.defined() ? in.attention_mask.sum().item<int64_t>()
                                                                    : in.input_ids.numel());
    std::printf("{\"ms_per_step\": %.1f, \"tokens_per_s\": %.1f, \"threads\": %d}\n", seconds * 1e3, tokens / seconds,
                at::get_num_threads());
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
