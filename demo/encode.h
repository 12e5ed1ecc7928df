// demo/encode: the demo's media files in their container formats: PNG and JPEG (stb_image_write),
// FLAC, and MP4 with MPEG-4 Part 2 video and an AAC sound track (libavcodec / libavformat). The
// encoders run single-threaded in bit-exact mode so a seed always gives the same bytes. Files are
// written to a temporary name and renamed into place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "canvas.h"

namespace omnitune::demo {

void write_png(const std::string& path, const Canvas& image);
void write_jpeg(const std::string& path, const Canvas& image, int quality);

// 16-bit mono samples at `rate`.
void write_flac(const std::string& path, const std::vector<int16_t>& samples, int rate);

// Frames of one size at `fps`, and a mono sound track at `rate` (Error naming the file on failure).
void write_mp4(const std::string& path, const std::vector<Canvas>& frames, int fps, const std::vector<int16_t>& audio,
               int rate);

}  // namespace omnitune::demo
