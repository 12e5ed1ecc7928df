// data/media_ref: a reference to one media item of a dataset row, resolved against dataset_dir.
#pragma once

#include <string>

namespace omnitune {

enum class MediaKind { kImage, kVideo, kAudio };
const char* media_kind_name(MediaKind kind);  // "image", "video", "audio"

struct MediaRef {
  MediaKind kind;
  std::string path;  // resolved: dataset_dir/path when that file exists, else the path as given
};

// The seed's rule: join(dataset_dir, path) when that is an existing file, else `path` unchanged.
std::string resolve_media_path(const std::string& dataset_dir, const std::string& path);

}  // namespace omnitune
