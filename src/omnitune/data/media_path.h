// data/media_path: where a media file named by a dataset row is, resolved against dataset_dir.
#pragma once

#include <string>

namespace omnitune {

// The seed's rule: join(dataset_dir, path) when that is an existing file, else `path` unchanged.
std::string resolve_media_path(const std::string& dataset_dir, const std::string& path);

}  // namespace omnitune
