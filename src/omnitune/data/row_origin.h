// data/row_origin: where a dataset row comes from — its file (with the size and modification time it
// had when opened, which the sample cache keys on), its index in that file and, for JSON Lines, its line.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace omnitune {

struct FileStamp {
  std::string path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

// The file's size and modification time; nullopt when it is not a readable regular file.
std::optional<FileStamp> stamp_file(const std::string& path);

struct RowOrigin {
  std::shared_ptr<const FileStamp> file;
  int64_t row = 0;            // 0-based index among the file's rows
  int64_t line = 0;           // 1-based line of a JSON Lines row; 0 for a row of a JSON array
  std::string where() const;  // "data/x.jsonl row 12 (line 14)", "data/x.json row 3"
};

}  // namespace omnitune
