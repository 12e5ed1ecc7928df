#include "omnitune/data/dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/core/log.h"

namespace omnitune {

std::shared_ptr<const FileStamp> open_data_file(const DataConfig& config, const std::string& file) {
  require_regular_file(file, config.path + ": dataset file");
  std::optional<FileStamp> stamp = stamp_file(file);
  if (!stamp) throw Error(config.path + ": dataset file '" + file + "' does not exist");
  return std::make_shared<const FileStamp>(std::move(*stamp));
}

std::string max_samples_note(const DataConfig& config, int64_t used, int64_t rows) {
  return cat(config.path, ": using ", used, " of ", rows, " rows (max_samples ", *config.basic.max_samples, ")");
}

Dataset::Dataset(const DataConfig& config) {
  if (config.basic.streaming)  // holding every row would defeat streaming: callers use open_rows (data/row_source.h)
    throw Error(config.path + ": streaming: true reads rows one at a time (open_rows), not into an in-memory Dataset");
  for (const auto& file : config.basic.datasets) {
    files_.push_back(open_data_file(config, file));
    std::ifstream in(file, std::ios::binary);
    bool jsonl = std::filesystem::path(file).extension() == ".jsonl";
    if (!jsonl) {  // a JSON array of rows
      nlohmann::json all;
      try {
        all = nlohmann::json::parse(in);
      } catch (const nlohmann::json::parse_error& e) {
        throw Error(file + ": invalid JSON: " + e.what());
      }
      if (!all.is_array()) throw Error(file + ": expected a JSON array of rows (use .jsonl for one row per line)");
      for (size_t i = 0; i < all.size(); ++i) {
        rows_.push_back(std::move(all[i]));
        origins_.push_back({files_.size() - 1, static_cast<int64_t>(i), 0});
      }
    } else {
      std::string line;
      int64_t number = 0, index = 0;
      while (std::getline(in, line)) {
        ++number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
          rows_.push_back(nlohmann::json::parse(line));
        } catch (const nlohmann::json::parse_error& e) {
          throw Error(cat(file, ": line ", number, ": invalid JSON: ", e.what()));
        }
        origins_.push_back({files_.size() - 1, index++, number});
      }
    }
  }
  if (rows_.empty()) throw Error(config.path + ": the datasets hold no rows");
  if (config.basic.max_samples) {
    const int64_t used = std::min(*config.basic.max_samples, size());
    log_info(max_samples_note(config, used, size()));
    rows_.resize(used);
    origins_.resize(used);
  }
}

Dataset::Dataset(const Dataset& from, const std::vector<int64_t>& rows) : files_(from.files_) {
  for (int64_t r : rows) {
    from.row(r);  // checks the index
    rows_.push_back(from.rows_[r]);
    origins_.push_back(from.origins_[r]);
  }
}

const nlohmann::json& Dataset::row(int64_t index) const {
  if (index < 0 || index >= size())
    throw Error(cat("row index ", index, " is outside the dataset (", size(), " rows)"));
  return rows_[index];
}

RowOrigin Dataset::origin(int64_t index) const {
  if (index < 0 || index >= size())
    throw Error(cat("row index ", index, " is outside the dataset (", size(), " rows)"));
  const Origin& o = origins_[index];
  return {files_[o.file], o.row, o.line};
}

}  // namespace omnitune
