// tests/data/loader_memory_tool: runs the loader over a data.json and prints the process's peak
// resident memory, for the streaming memory test (tests/python/test_data_streaming.py).
//   loader_memory_tool <data.json> <micro batch> <batches>      batches 0 = the whole first epoch
// Prints one JSON line: batches and samples taken, peak RSS (VmHWM) in kB after opening the rows and at the end.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/data/loader.h"

using namespace omnitune;

namespace {
int64_t peak_rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
  throw Error("/proc/self/status has no VmHWM line");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: loader_memory_tool <data.json> <micro batch> <batches>\n");
    return 2;
  }
  try {
    DataConfig config = load_data_config(argv[1]);
    auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_dir(config.preprocess.model_name_or_path));
    auto builder = std::make_shared<const SampleBuilder>(config, tokenizer);
    const int64_t mbs = std::atoll(argv[2]), batches = std::atoll(argv[3]);
    Loader loader(open_rows(config, {mbs, 0, 1, 1, config.loader.shuffle, true}), builder, config, 2);
    const int64_t opened = peak_rss_kb();
    int64_t taken = 0;
    while (batches > 0 ? taken < batches : loader.state().epoch == 0) {
      loader.next();
      ++taken;
    }
    std::printf(
        "{\"batches\": %ld, \"samples\": %ld, \"epoch\": %ld, \"opened_peak_rss_kb\": %ld, \"peak_rss_kb\": %ld}\n",
        taken, loader.counters().samples, loader.state().epoch, opened, peak_rss_kb());
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
