// media/image_patchify: the tail of the Qwen2-VL image and video processors shared by both: smart_resize,
// bicubic resize, normalisation to [-1, 1] and the flattening of frame pairs into 16x16 patch rows.
#pragma once

#include <cstdint>
#include <vector>

#include "omnitune/media/image.h"

namespace omnitune {

constexpr int64_t kPatchSize = 16;         // vision_config.patch_size
constexpr int64_t kTemporalPatchSize = 2;  // frames per temporal patch
constexpr int64_t kMergeSize = 2;          // patches merged per side into one LLM token
constexpr int64_t kPatchValues = 3 * kTemporalPatchSize * kPatchSize * kPatchSize;  // 1536

// `frames` (one image, or the frames of one video, all the same size) resized to
// smart_resize(h, w, 32, min_pixels, max_pixels) with resize_bicubic, the last frame repeated to an even
// count, each value v mapped to (v - 127.5) / 127.5, and flattened: rows ordered (t, block-row,
// block-col, row-in-block, col-in-block), each row (channel, frame-in-pair, y, x).
VisionInput patchify_frames(const std::vector<RgbImage>& frames, int64_t min_pixels, int64_t max_pixels);

}  // namespace omnitune
