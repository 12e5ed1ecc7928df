// media/image_resize: uint8 RGB resamplers that reproduce, bit for bit, the ones the reference pipeline
// uses: torchvision's antialiased bicubic (resize_bicubic, in image.h) and PIL's BICUBIC and NEAREST.
#pragma once

#include <cstdint>

#include "omnitune/media/image.h"

namespace omnitune {

// PIL Image.resize(size, Image.BICUBIC) of an RGB image: separable Keys cubic (a = -0.5) with support
// widened by the downscale factor, 22-bit fixed-point weights, each pass rounded and clipped to uint8;
// the width is filtered first unless the height shrinks by more than twice as many pixels (Pillow 13).
RgbImage resize_bicubic_pil(const RgbImage& image, int64_t width, int64_t height);

// PIL Image.resize(size, Image.NEAREST): source pixel floor((i + 0.5) * in / out), accumulated the way PIL does.
RgbImage resize_nearest_pil(const RgbImage& image, int64_t width, int64_t height);

}  // namespace omnitune
