#include "omnitune/media/video.h"

#include "omnitune/core/error.h"
#include "omnitune/media/image_patchify.h"
#include "omnitune/media/image_preresize.h"
#include "omnitune/media/video_decode.h"
#include "omnitune/media/video_sampling.h"

namespace omnitune {

SampledVideo sample_video(const std::string& path, const VideoOptions& options) {
  const VideoStreamInfo info = probe_video(path);
  FrameSampling sampling;
  try {
    sampling = sample_frame_indices(info.frame_count, info.duration_seconds, options.fps, options.max_frames);
  } catch (const Error& e) {
    throw Error(cat(path, ": ", e.what()));
  }
  SampledVideo out;
  out.total_frames = info.frame_count;
  out.duration_seconds = info.duration_seconds;
  out.effective_fps = sampling.fps;  // the seed divides the planned count by the duration, as here
  out.frames = decode_video_frames(path, sampling.indices, out.frame_indices);
  if (out.frames.empty()) throw Error(cat(path, ": no video frame could be decoded"));
  return out;
}

std::vector<RgbImage> preresize_video_frames(const std::vector<RgbImage>& frames, const VideoOptions& options) {
  std::vector<RgbImage> out;
  out.reserve(frames.size() + 1);
  for (const RgbImage& frame : frames)
    out.push_back(seed_preresize(frame, options.min_pixels, options.max_pixels, PreResizeFilter::nearest));
  if (out.size() % 2 != 0) out.push_back(out.back());  // the seed repeats the last frame of an odd count
  return out;
}

VideoInput process_video(const SampledVideo& video, const VideoOptions& options) {
  VisionInput vision = patchify_frames(preresize_video_frames(video.frames, options), options.processor_min_pixels,
                                       options.processor_max_pixels);
  VideoInput out;
  out.pixel_values = std::move(vision.pixel_values);
  out.grid_thw = std::move(vision.grid_thw);
  out.effective_fps = video.effective_fps;
  out.second_per_grid = static_cast<double>(kTemporalPatchSize) / video.effective_fps;
  out.frame_indices = video.frame_indices;
  return out;
}

VideoInput load_video(const std::string& path, const VideoOptions& options) {
  const SampledVideo sampled = sample_video(path, options);
  try {
    return process_video(sampled, options);
  } catch (const Error& e) {
    throw Error(cat(path, ": ", e.what()));
  }
}

}  // namespace omnitune
