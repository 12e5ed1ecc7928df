// data/fake_media: keep_towers_active — the seed's fake media for micro-batches that lack a modality, so
// every tower runs (and joins its sharded collectives) on every rank: a 64x64 white image and 0.1 s of
// silence, processed by the normal image and audio pipelines. collate (data/collate.h) appends their
// tokens to a row with attention_mask 0 and labels -100: they change neither the loss nor the positions
// or logits of the real tokens.
#pragma once

#include <array>
#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/data/sample_builder.h"

namespace omnitune {

struct FakeMedia {
  std::vector<int64_t> image_tokens;  // <|vision_start|> <|image_pad|> x N <|vision_end|>
  at::Tensor image_pixels;            // [4N, 1536]
  std::array<int64_t, 3> image_grid;  // (1, h/16, w/16)
  std::vector<int64_t> audio_tokens;  // <|audio_start|> <|audio_pad|> x M <|audio_end|>
  at::Tensor audio_features;          // [128, 10]
};

FakeMedia make_fake_media(const SampleBuilder& builder);

}  // namespace omnitune
