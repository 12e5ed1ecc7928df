#include "omnitune/data/jsonl_stream.h"

#include <filesystem>

#include "omnitune/core/error.h"
#include "omnitune/data/dataset.h"

namespace omnitune {

JsonlStream::JsonlStream(const DataConfig& config) : config_(&config) {
  for (const auto& file : config.basic.datasets) {
    open_data_file(config, file);
    if (std::filesystem::path(file).extension() != ".jsonl")
      throw Error(
          cat(config.path, ": streaming reads JSON Lines files (.jsonl, one row per line) but '", file,
              "' is read as one JSON array; convert it (jq -c '.[]' in.json > out.jsonl) or set streaming to false"));
  }
}

bool JsonlStream::open_next_file() {
  if (next_file_ >= config_->basic.datasets.size()) return false;
  const std::string& path = config_->basic.datasets[next_file_++];
  file_ = open_data_file(*config_, path);
  in_ = std::ifstream(path, std::ios::binary);
  if (!in_) throw Error(path + ": cannot open for reading");
  row_ = line_ = 0;
  return true;
}

bool JsonlStream::next(TextRow& row) {
  if (config_->basic.max_samples && rows_read_ >= *config_->basic.max_samples) return false;
  while (true) {
    if (!file_ || !in_.is_open()) {
      if (!open_next_file()) return false;
    }
    if (!std::getline(in_, buffer_)) {
      if (in_.bad()) throw Error(cat(file_->path, ": read error after line ", line_));
      in_.close();
      continue;
    }
    ++line_;
    if (buffer_.find_first_not_of(" \t\r") == std::string::npos) continue;
    row.text.swap(buffer_);
    row.origin = {file_, row_++, line_};
    ++rows_read_;
    return true;
  }
}

}  // namespace omnitune
