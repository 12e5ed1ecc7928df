// data/collate: samples -> one micro-batch with the model's forward argument names: right padding to
// a multiple of 8 (labels -100, attention_mask 0), media concatenated in sample order, audio
// features padded to the longest with feature_attention_mask.
#pragma once

#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/data/sample.h"

namespace omnitune {

struct Batch {
  at::Tensor input_ids, attention_mask, labels;          // [B, S]
  at::Tensor pixel_values, image_grid_thw;               // [N, 1536], [n, 3] (undefined without images)
  at::Tensor pixel_values_videos, video_grid_thw, video_second_per_grid;
  at::Tensor input_features, feature_attention_mask;     // [Na, 128, T], [Na, T]
  bool use_audio_in_video = false;
};

Batch collate(const std::vector<Sample>& samples, int64_t pad_id, int64_t pad_to_multiple_of = 8);

}  // namespace omnitune
