#include "omnitune/data/media_path.h"

#include <filesystem>

namespace omnitune {

std::string resolve_media_path(const std::string& dataset_dir, const std::string& path) {
  if (dataset_dir.empty() || std::filesystem::path(path).is_absolute()) return path;
  std::filesystem::path joined = std::filesystem::path(dataset_dir) / path;
  return std::filesystem::is_regular_file(joined) ? joined.string() : path;
}

}  // namespace omnitune
