// media/image_preresize: the seed's resizing of images and video frames before the Hugging Face
// processor sees them (pixel-count bounds, then the Qwen2-VL minimum side and aspect-ratio fix-ups).
#pragma once

#include <cstdint>

#include "omnitune/media/image.h"

namespace omnitune {

// Which PIL filter the seed uses for the pixel-count step: images go through PIL's default (bicubic),
// video frames through NEAREST. The fix-ups always use bicubic.
enum class PreResizeFilter { bicubic, nearest };

// 1. area > max_pixels: both sides scaled by sqrt(max_pixels / area), truncated to integers;
// 2. area < min_pixels: likewise scaled up by sqrt(min_pixels / area);
// 3. a side under 28 pixels is raised to 28;
// 4. width / height > 200: resized to (180 * height) x height; height / width > 200: width x (180 * width).
// A side that would truncate to 0 is kept at 1 (the seed fails there).
RgbImage seed_preresize(const RgbImage& image, int64_t min_pixels, int64_t max_pixels, PreResizeFilter filter);

}  // namespace omnitune
