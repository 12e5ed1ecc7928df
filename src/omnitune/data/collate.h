// data/collate: samples -> one micro-batch with the model's forward argument names: right padding to
// a multiple of 8 (labels -100, attention_mask 0), media concatenated in sample order, audio
// features padded to the longest with feature_attention_mask. With fake media (keep_towers_active), a
// micro-batch without any image or video gets the fake image, one without audio the fake audio: their
// tokens follow the real tokens of the shortest row (the first of equals) with attention_mask 0 and
// labels -100, their pixels / features are the batch's only ones.
#pragma once

#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/data/fake_media.h"
#include "omnitune/data/sample.h"

namespace omnitune {

struct Batch {
  at::Tensor input_ids, attention_mask, labels;          // [B, S]
  at::Tensor pixel_values, image_grid_thw;               // [N, 1536], [n, 3] (undefined without images)
  at::Tensor pixel_values_videos, video_grid_thw, video_second_per_grid;
  at::Tensor input_features, feature_attention_mask;     // [Na, 128, T], [Na, T]
  bool use_audio_in_video = false;
  std::vector<std::string> sources;  // each row's Sample::source
};

Batch collate(const std::vector<Sample>& samples, int64_t pad_id, int64_t pad_to_multiple_of = 8, const FakeMedia* fake = nullptr);

}  // namespace omnitune
