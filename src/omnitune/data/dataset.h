// data/dataset: the rows of the data.json datasets (JSON arrays or JSONL files, several files
// concatenated in order, the first max_samples of them when it is set), all in memory, each addressable by index with
// its origin for error messages and the sample cache. (streaming: true reads rows one at a time instead:
// data/jsonl_stream.h.)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omnitune/data/data_config.h"
#include "omnitune/data/row_origin.h"

namespace omnitune {

class Dataset {
 public:
  explicit Dataset(const DataConfig& config);  // reads every file; Error naming file and line on bad JSON
  Dataset(const Dataset& from, const std::vector<int64_t>& rows);  // those rows of `from`, origins kept
  int64_t size() const { return static_cast<int64_t>(rows_.size()); }
  const nlohmann::json& row(int64_t index) const;
  RowOrigin origin(int64_t index) const;
  std::string where(int64_t index) const { return origin(index).where(); }

 private:
  struct Origin {
    size_t file;
    int64_t row, line;
  };
  std::vector<std::shared_ptr<const FileStamp>> files_;
  std::vector<nlohmann::json> rows_;
  std::vector<Origin> origins_;
};

// "<data.json>: using N of M rows (max_samples K)": the line logged once when max_samples caps the rows.
std::string max_samples_note(const DataConfig& config, int64_t used, int64_t rows);

// The dataset file `file` of `config`, stamped; Error naming the data.json when it does not exist.
std::shared_ptr<const FileStamp> open_data_file(const DataConfig& config, const std::string& file);

}  // namespace omnitune
