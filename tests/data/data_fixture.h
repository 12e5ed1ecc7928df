// tests/data/data_fixture: small data sets written on the fly for the data tests — text rows, a WAV and
// a BMP file, and a data.json around them.
#pragma once

#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "omnitune/data/loader.h"
#include "test_util.h"

namespace omnitune::test {

// `rows` JSONL rows "question i" / "answer i"; every `bad_every`-th row (if > 0) has the unknown role "robot".
inline std::string text_rows(int rows, int bad_every = 0) {
  std::string lines;
  for (int i = 0; i < rows; ++i) {
    std::string role = bad_every > 0 && i % bad_every == bad_every - 1 ? "robot" : "user";
    lines += "{\"messages\": [{\"role\": \"" + role + "\", \"content\": \"question " + std::to_string(i) +
             "\"}, {\"role\": \"assistant\", \"content\": \"answer " + std::to_string(i) + "\"}]}\n";
  }
  return lines;
}

// A data.json over `dataset` (comma-separated files) with the messages format; `basic` and `loader` are
// extra JSON members ("" or starting with ',') of basic_parameters / dataloader_param.
inline std::string write_data_json(const TempDir& dir, const std::string& dataset, const std::string& basic = "",
                                   const std::string& loader = "", const std::string& name = "data.json") {
  write_text(dir.file(name),
             R"({"dataset_param": {"preprocess_parameters": {"model_name_or_path": ")" OMNITUNE_SOURCE_DIR
             R"(/assets/tokenizer/qwen3-omni"}, "basic_parameters": {"dataset": ")" +
                 dataset + R"(", "dataset_dir": ")" + dir.path().string() + "\"" + basic + R"(},
      "attr": {"messages": "messages", "role_tag": "role", "content_tag": "content", "user_tag": "user",
               "assistant_tag": "assistant", "images": "images", "audios": "audios"}},
      "dataloader_param": {"shuffle": false)" +
                 loader + "}}");
  return dir.file(name);
}

// 16-bit mono PCM WAV: a tone of `hz` for `seconds`.
inline void write_wav(const std::string& path, double seconds, int rate = 16000, double hz = 440) {
  const uint32_t n = static_cast<uint32_t>(seconds * rate), bytes = 2 * n;
  std::ofstream f(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
  f.write("RIFF", 4), u32(36 + bytes), f.write("WAVEfmt ", 8), u32(16), u16(1), u16(1), u32(rate), u32(2 * rate),
      u16(2), u16(16);
  f.write("data", 4), u32(bytes);
  for (uint32_t i = 0; i < n; ++i)
    u16(static_cast<uint16_t>(static_cast<int16_t>(8000 * std::sin(6.283185307 * hz * i / rate))));
}

// 24-bit BMP of a colour gradient.
inline void write_bmp(const std::string& path, int width, int height) {
  const int stride = (3 * width + 3) / 4 * 4;
  const uint32_t size = 54 + static_cast<uint32_t>(stride * height);
  std::ofstream f(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
  f.write("BM", 2), u32(size), u32(0), u32(54), u32(40), u32(width), u32(height), u16(1), u16(24), u32(0),
      u32(size - 54), u32(2835), u32(2835), u32(0), u32(0);
  std::vector<char> row(stride, 0);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      row[3 * x] = static_cast<char>(x * 255 / width);
      row[3 * x + 1] = static_cast<char>(y * 255 / height);
      row[3 * x + 2] = static_cast<char>((x + y) % 256);
    }
    f.write(row.data(), stride);
  }
}

// Config, tokenizer and builder of a data.json.
struct DataFixture {
  DataConfig config;
  std::shared_ptr<const SampleBuilder> builder;
  explicit DataFixture(const std::string& path) : config(load_data_config(path)) {
    builder = std::make_shared<const SampleBuilder>(
        config, std::make_shared<const Tokenizer>(Tokenizer::from_dir(config.preprocess.model_name_or_path)));
  }
  Loader loader(const SamplerOptions& options, int64_t workers) const {
    return Loader(open_rows(config, options), builder, config, workers);
  }
};

}  // namespace omnitune::test
