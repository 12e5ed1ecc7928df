// data/sample: one training sample as the model consumes it — token ids, labels and the processed
// media of each placeholder, in order.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

namespace omnitune {

struct Sample {
  std::vector<int64_t> input_ids;                   // [S]
  std::vector<int64_t> labels;                      // [S], -100 = not trained
  std::vector<at::Tensor> image_pixels;             // each [N_i, 1536]
  std::vector<std::array<int64_t, 3>> image_grids;  // (t, h, w) in patches
  std::vector<at::Tensor> video_pixels;             // each [N_v, 1536]
  std::vector<std::array<int64_t, 3>> video_grids;
  std::vector<double> video_second_per_grid;
  std::vector<at::Tensor> audio_features;  // each [128, T_a] log-mel
  bool use_audio_in_video = false;
  std::string text;        // the rendered conversation before placeholder expansion
  std::string source;      // where the row came from ("<file> row R (line L)"), for messages
  int64_t cut_tokens = 0;  // text tokens the cutoff_len budget dropped (reported, like skipped samples)

  int64_t trained_tokens() const;  // labels != -100
};

}  // namespace omnitune
