// make_demo_data --out DIR --tokenizer TOKENIZER_DIR [--rows N] [--val-rows V] [--seed S]: writes a small multimodal
// dataset for the end-to-end demo: pictures of coloured shapes (PNG, JPEG), speech-like clips at
// 44.1 kHz (WAV, FLAC), short videos with a sound track (MP4), the rows that caption them plus text,
// multi-turn and tool-call rows, and DIR/data.json. The same seed gives the same bytes.
#include <cstdint>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "dataset.h"
#include "media_set.h"
#include "omnitune/core/error.h"

int main(int argc, char** argv) {
  std::string out, tokenizer;
  int64_t rows = 70, val_rows = 0;
  uint64_t seed = 0;
  CLI::App app("Writes the demo's media files, rows and data.json", "make_demo_data");
  app.add_option("--out", out, "Output directory (created)")->required();
  app.add_option("--tokenizer", tokenizer, "Tokenizer directory (written to data.json as model_name_or_path)")
      ->required();
  app.add_option("--rows", rows, "Number of rows; kinds alternate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--val-rows", val_rows, "Rows held out for validation (data.json val_rate); 0 = none")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", seed, "Seed of every random choice")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    if (!std::filesystem::is_regular_file(std::filesystem::path(tokenizer) / "tokenizer.json"))
      throw omnitune::Error("--tokenizer " + tokenizer + ": no tokenizer.json in that directory");
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) throw omnitune::Error("--out " + out + ": cannot create the directory: " + ec.message());
    omnitune::demo::Rng rng(seed);
    const omnitune::demo::MediaSet media = omnitune::demo::make_media(rng, out);
    const omnitune::demo::DatasetSummary summary =
        omnitune::demo::write_dataset(rng, media, out, tokenizer, rows, val_rows);
    std::cout << "make_demo_data: " << media.images.size() << " images, " << media.audios.size() << " audio clips, "
              << media.videos.size() << " videos, " << summary.rows << " rows in " << summary.files << " files; "
              << summary.data_json << "\n";
  } catch (const std::exception& e) {  // omnitune::Error and std::filesystem errors name the file
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
