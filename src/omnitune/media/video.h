// media/video: video files for the vision tower. FFmpeg decoding, the seed's frame sampling and per-frame
// pre-resize, then the Qwen2-VL video processor that builds the model inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "omnitune/media/image.h"

namespace omnitune {

struct VideoOptions {
  double fps = 2.0;          // video_fps: frames sampled per second
  int64_t max_frames = 128;  // video_maxlen
  // The seed's per-frame pre-resize bounds (video_min_pixels, video_max_pixels).
  int64_t min_pixels = 256, max_pixels = 65536;
  // The video processor's own smart_resize bounds (preprocessor_config.json min_pixels/max_pixels).
  int64_t processor_min_pixels = 3136, processor_max_pixels = 12845056;
};

struct VideoInput {
  at::Tensor pixel_values;             // [N, 1536] float32
  at::Tensor grid_thw;                 // [3] int64: frames/2, height/16, width/16
  double second_per_grid = 0;          // 2 / effective_fps (drives TMRoPE temporal positions)
  std::vector<int64_t> frame_indices;  // decoded frame numbers that were sampled
  double effective_fps = 0;            // sampled frames per second of video
};

// The sampled frames of a video file, as decoded (before any resize).
struct SampledVideo {
  std::vector<RgbImage> frames;
  std::vector<int64_t> frame_indices;
  double effective_fps = 0;
  int64_t total_frames = 0;      // frames the sampling rule saw
  double duration_seconds = -1;  // duration the sampling rule saw; negative when unknown
};

// Decodes `path` and keeps the frames the seed's rule picks:
// n = min(total_frames, max_frames, max(1, floor(duration * fps))) frames at trunc(linspace(0, total-1, n)),
// effective fps = n / duration, with total_frames and duration as PyAV reports them (stream.frames,
// stream.duration * time_base). Where the container declares neither (Matroska, WebM) the seed would take
// the first max_frames frames and call them 2 fps; here the stream's packets are counted and the container
// duration is used instead. Throws Error naming the file (and the frame) on failure.
SampledVideo sample_video(const std::string& path, const VideoOptions& options);

// The seed's per-frame preparation: an odd frame count gets its last frame repeated, then each frame is
// pre-resized into [min_pixels, max_pixels] with NEAREST (plus the Qwen2-VL side / aspect fix-ups).
std::vector<RgbImage> preresize_video_frames(const std::vector<RgbImage>& frames, const VideoOptions& options);

// preresize_video_frames, then the video processor (smart_resize per video, bicubic, normalise,
// patchify with grid_t = frames / 2); second_per_grid = 2 / effective fps.
VideoInput process_video(const SampledVideo& video, const VideoOptions& options);

// process_video(sample_video(path, options), options), errors naming the file.
VideoInput load_video(const std::string& path, const VideoOptions& options);

}  // namespace omnitune
