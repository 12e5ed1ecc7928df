// data/dataset: the rows of the data.json datasets (JSON arrays or JSONL files, several files
// concatenated in order, cut at max_samples), each addressable by index with its file and line for
// error messages.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omnitune/data/data_config.h"

namespace omnitune {

class Dataset {
 public:
  explicit Dataset(const DataConfig& config);  // reads every file; Error naming file and line on bad JSON
  int64_t size() const { return static_cast<int64_t>(rows_.size()); }
  const nlohmann::json& row(int64_t index) const;
  std::string where(int64_t index) const;  // "data/x.jsonl row 12" (row = 0-based index within that file)

 private:
  struct Origin {
    size_t file;
    int64_t row;
  };
  std::vector<std::string> files_;
  std::vector<nlohmann::json> rows_;
  std::vector<Origin> origins_;
};

}  // namespace omnitune
