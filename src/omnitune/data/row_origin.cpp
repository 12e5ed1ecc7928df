#include "omnitune/data/row_origin.h"

#include <sys/stat.h>

#include "omnitune/core/error.h"

namespace omnitune {

std::optional<FileStamp> stamp_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileStamp{path, static_cast<int64_t>(st.st_size),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + static_cast<int64_t>(st.st_mtim.tv_nsec)};
}

std::string RowOrigin::where() const {
  std::string out = cat(file ? file->path : std::string("?"), " row ", row);
  return line > 0 ? cat(out, " (line ", line, ")") : out;
}

}  // namespace omnitune
