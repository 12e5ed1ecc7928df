// tokenizer_bench: single-thread encode throughput of the C++ tokenizer over a corpus, loaded once
// (so process start and file loading are not timed). Prints one JSON line.
//   tokenizer_bench <tokenizer-dir> <corpus.jsonl with {"text": ...} lines> [repeats=3]
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "omnitune/core/error.h"
#include "omnitune/text/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: tokenizer_bench <tokenizer-dir> <corpus.jsonl> [repeats]\n";
    return 2;
  }
  try {
    const int repeats = argc > 3 ? std::max(1, std::stoi(argv[3])) : 3;
    std::vector<std::string> texts;
    size_t bytes = 0;
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) throw omnitune::Error(omnitune::cat(argv[2], ": cannot open"));
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
      bytes += texts.back().size();
    }
    auto t0 = std::chrono::steady_clock::now();
    const omnitune::Tokenizer tokenizer = omnitune::Tokenizer::from_dir(argv[1]);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::vector<double> seconds;
    size_t tokens = 0;
    std::vector<int32_t> ids;
    for (int r = 0; r < repeats; ++r) {
      tokens = 0;
      t0 = std::chrono::steady_clock::now();
      for (const std::string& text : texts) {
        ids.clear();
        tokenizer.encode(text, ids);
        tokens += ids.size();
      }
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double first = seconds.front(), best = *std::min_element(seconds.begin(), seconds.end());
    nlohmann::json out = {{"lines", texts.size()},
                          {"bytes", bytes},
                          {"tokens", tokens},
                          {"load_s", load_s},
                          {"first_s", first},
                          {"best_s", best},
                          {"first_mb_s", bytes / first / 1e6},
                          {"best_mb_s", bytes / best / 1e6}};
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
