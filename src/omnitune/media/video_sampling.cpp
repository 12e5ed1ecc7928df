#include "omnitune/media/video_sampling.h"

#include <algorithm>
#include <cmath>

#include "omnitune/core/error.h"

namespace omnitune {

FrameSampling sample_frame_indices(int64_t total_frames, double duration_seconds, double fps, int64_t max_frames) {
  if (total_frames < 1) throw Error("video has no frames");
  if (!(fps > 0)) throw Error(cat("video sampling rate must be positive, got ", fps));
  if (max_frames < 1) throw Error(cat("video max_frames must be at least 1, got ", max_frames));
  const bool known = duration_seconds > 0 && std::isfinite(duration_seconds);
  int64_t n = std::min(total_frames, max_frames);
  if (known) n = std::min<int64_t>(n, std::max<int64_t>(1, static_cast<int64_t>(std::floor(duration_seconds * fps))));
  FrameSampling out;
  out.indices.resize(static_cast<size_t>(n));
  // numpy: step = (stop - start) / (n - 1); y[i] = i * step; y[-1] = stop; then astype(int32) truncates.
  if (n > 1) {
    const double step = static_cast<double>(total_frames - 1) / static_cast<double>(n - 1);
    for (int64_t i = 0; i + 1 < n; ++i) out.indices[i] = static_cast<int64_t>(static_cast<double>(i) * step);
    out.indices[n - 1] = total_frames - 1;
  } else {
    out.indices[0] = 0;
  }
  out.fps = known ? static_cast<double>(n) / duration_seconds : fps;
  return out;
}

}  // namespace omnitune
