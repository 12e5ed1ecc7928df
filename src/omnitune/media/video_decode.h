// media/video_decode: FFmpeg access to the first video stream of a file: its frame count and duration,
// and the RGB pixels of chosen frames.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "omnitune/media/image.h"

namespace omnitune {

struct VideoStreamInfo {
  int64_t frame_count = 0;              // frames in the stream
  bool frame_count_from_header = true;  // false: the container gives none, so packets were counted
  double duration_seconds = -1;         // stream duration, else the container's; negative when unknown
  bool duration_from_stream = true;     // false: the stream gives none (the container's was used, if any)
};

// Opens `path` and reads its first video stream (cover-art pictures skipped): the frame count the
// container declares (PyAV's stream.frames) and duration * time_base (PyAV's stream.duration), with the
// documented fallbacks when the container declares neither (Matroska / WebM). Throws Error naming the
// file when it cannot be opened or has no video stream.
VideoStreamInfo probe_video(const std::string& path);

// Decodes that stream from the start and returns the frames whose decoded number (0-based, display
// order, as PyAV's enumerate(container.decode(stream)) counts them) is in `indices` (increasing), as RGB
// like PyAV's frame.to_image(): swscale bilinear with the frame's own colour matrix and range; frames
// of another size than the first one kept are scaled to it. `found` receives the numbers actually
// reached (a stream may hold fewer frames than declared). Throws Error naming the file and frame.
std::vector<RgbImage> decode_video_frames(const std::string& path, const std::vector<int64_t>& indices,
                                          std::vector<int64_t>& found);

}  // namespace omnitune
