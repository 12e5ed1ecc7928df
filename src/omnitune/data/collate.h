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
#include "omnitune/model/thinker_inputs.h"

namespace omnitune {

// The micro-batch (media inputs undefined when no sample has that kind); `sources` = each row's Sample::source.
ThinkerInputs collate(const std::vector<Sample>& samples, int64_t pad_id, int64_t pad_to_multiple_of = 8,
                      const FakeMedia* fake = nullptr);

}  // namespace omnitune
