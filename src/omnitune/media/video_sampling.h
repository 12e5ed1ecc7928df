// media/video_sampling: which frames of a video the seed samples and the frame rate that implies.
#pragma once

#include <cstdint>
#include <vector>

namespace omnitune {

struct FrameSampling {
  std::vector<int64_t> indices;  // increasing decoded-frame numbers
  double fps = 0;                // effective sampling rate
};

// n = min(total_frames, max_frames, max(1, floor(duration_seconds * fps))) indices trunc(linspace(0, total-1, n))
// (numpy's linspace arithmetic), effective fps n / duration_seconds. With an unknown duration
// (duration_seconds <= 0) n = min(total_frames, max_frames) and the effective fps is `fps`.
// Throws Error when total_frames < 1, fps <= 0 or max_frames < 1.
FrameSampling sample_frame_indices(int64_t total_frames, double duration_seconds, double fps, int64_t max_frames);

}  // namespace omnitune
