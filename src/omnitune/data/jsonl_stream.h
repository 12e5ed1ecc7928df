// data/jsonl_stream: the rows of the data.json's JSON Lines files read one line at a time (files in
// order, blank lines skipped, cut at max_samples rows). Memory stays flat in the files' size: only the
// current line is held. Rows are handed out as text; parsing them is the caller's (worker's) job.
#pragma once

#include <fstream>
#include <memory>
#include <string>

#include "omnitune/data/data_config.h"
#include "omnitune/data/row_origin.h"

namespace omnitune {

struct TextRow {
  std::string text;  // one JSON object, unparsed
  RowOrigin origin;
};

class JsonlStream {
 public:
  // Checks every file: it must exist and be JSON Lines (.jsonl); a JSON array file is an Error.
  explicit JsonlStream(const DataConfig& config);
  bool next(TextRow& row);  // false after the last row
  int64_t rows_read() const { return rows_read_; }

 private:
  bool open_next_file();
  const DataConfig* config_;
  size_t next_file_ = 0;
  std::ifstream in_;
  std::shared_ptr<const FileStamp> file_;
  int64_t row_ = 0, line_ = 0, rows_read_ = 0;
  std::string buffer_;
};

}  // namespace omnitune
