// media/smart_resize: the Qwen2-VL rule that picks the size an image or video frame is resized to:
// both sides multiples of `factor` (32 = patch 16 x merge 2), area within [min_pixels, max_pixels],
// aspect ratio kept as closely as possible.
#pragma once

#include <cstdint>
#include <utility>

namespace omnitune {

// (height, width) -> resized (height, width). Python's round() (half to even) as the reference does.
// Throws Error when the aspect ratio exceeds 200 or a side is 0.
std::pair<int64_t, int64_t> smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                         int64_t max_pixels);

}  // namespace omnitune
