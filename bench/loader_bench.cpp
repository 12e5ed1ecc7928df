// bench/loader_bench: how fast the data loader turns data.json rows into micro-batches.
//   loader_bench <data.json> <micro batch> <batches> <workers...>
// For each worker count prints samples/s and the mean time next() blocked (the trainer's wait per
// step when a step takes no time at all: the worst case).
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "omnitune/core/error.h"
#include "omnitune/data/loader.h"

using namespace omnitune;

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: loader_bench <data.json> <micro batch> <batches> <workers...>\n");
    return 2;
  }
  try {
    DataConfig config = load_data_config(argv[1]);
    auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_dir(config.preprocess.model_name_or_path));
    auto builder = std::make_shared<const SampleBuilder>(config, tokenizer);
    const int64_t mbs = std::atoll(argv[2]), batches = std::atoll(argv[3]);
    for (int a = 4; a < argc; ++a) {
      const int64_t workers = std::atoll(argv[a]);
      Loader loader(open_rows(config, {mbs, 0, 1, 1, true, true}), builder, config, workers,
                    2 * std::max<int64_t>(1, workers));
      auto start = std::chrono::steady_clock::now();
      double waited = 0;
      for (int64_t b = 0; b < batches; ++b) {
        auto t0 = std::chrono::steady_clock::now();
        loader.next();
        waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("{\"workers\": %ld, \"samples_per_s\": %.2f, \"wait_ms_per_step\": %.1f}\n", workers,
                  static_cast<double>(loader.counters().samples) / seconds,
                  1e3 * waited / static_cast<double>(batches));
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
