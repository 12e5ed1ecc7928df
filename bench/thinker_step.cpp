// bench/thinker_step: forward+backward time of the thinker on one batch (HF forward argument names in
// a safetensors file), after one warm-up step. Prints one JSON line: ms per step and tokens/s.
//   thinker_step <hf model dir> <batch.safetensors> [iters] [attn] [layout] [moe] [loss chunk rows (1024; 0 = full logits)]
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

using namespace omnitune;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: thinker_step <model dir> <batch.safetensors> [iters] [attn] [layout] [moe] [loss chunk rows]\n");
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
    SafetensorsFile batch(argv[2]);
    auto get = [&](const char* name) { return batch.find(name) ? read_tensor(batch, *batch.find(name)) : at::Tensor(); };
    ThinkerInputs in{.input_ids = get("input_ids"),
                     .attention_mask = get("attention_mask"),
                     .labels = get("labels"),
                     .label_weights = at::Tensor(),
                     .pixel_values = get("pixel_values"),
                     .image_grid_thw = get("image_grid_thw"),
                     .pixel_values_videos = get("pixel_values_videos"),
                     .video_grid_thw = get("video_grid_thw"),
                     .video_second_per_grid = get("video_second_per_grid"),
                     .input_features = get("input_features"),
                     .feature_attention_mask = get("feature_attention_mask")};
    auto step = [&] {
      thinker->zero_grad();
      thinker->forward(in).loss.backward();
    };
    step();  // warm-up
    if (const char* trace = std::getenv("OMNITUNE_PROFILE")) {  // a Chrome trace of one step
      torch::autograd::profiler::RecordProfile profile(trace);
      step();
    }
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) step();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
    double tokens = static_cast<double>(in.attention_mask.defined() ? in.attention_mask.sum().item<int64_t>() : in.input_ids.numel());
    std::printf("{\"ms_per_step\": %.1f, \"tokens_per_s\": %.1f, \"threads\": %d}\n", seconds * 1e3, tokens / seconds,
                at::get_num_threads());
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
