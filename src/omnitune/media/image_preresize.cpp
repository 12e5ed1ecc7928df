#include "omnitune/media/image_preresize.h"

#include <algorithm>
#include <cmath>

#include "omnitune/media/image_resize.h"

namespace omnitune {

namespace {

constexpr int64_t kMinSide = 28;     // Qwen2-VL plugin: shorter side at least this
constexpr int64_t kMaxAspect = 200;  // ... and the aspect ratio at most this
constexpr int64_t kAspectFix = 180;  // ... else the long side becomes this many times the short one

RgbImage scale_area(const RgbImage& image, double factor, PreResizeFilter filter) {
  const int64_t width = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(image.width) * factor));
  const int64_t height = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(image.height) * factor));
  return filter == PreResizeFilter::nearest ? resize_nearest_pil(image, width, height)
                                            : resize_bicubic_pil(image, width, height);
}

}  // namespace

RgbImage seed_preresize(const RgbImage& image, int64_t min_pixels, int64_t max_pixels, PreResizeFilter filter) {
  RgbImage out = image;
  if (out.width * out.height > max_pixels)
    out = scale_area(out, std::sqrt(static_cast<double>(max_pixels) / static_cast<double>(out.width * out.height)),
                     filter);
  if (out.width * out.height < min_pixels)
    out = scale_area(out, std::sqrt(static_cast<double>(min_pixels) / static_cast<double>(out.width * out.height)),
                     filter);
  if (std::min(out.width, out.height) < kMinSide)
    out = resize_bicubic_pil(out, std::max(out.width, kMinSide), std::max(out.height, kMinSide));
  if (static_cast<double>(out.width) / static_cast<double>(out.height) > kMaxAspect)
    out = resize_bicubic_pil(out, out.height * kAspectFix, out.height);
  if (static_cast<double>(out.height) / static_cast<double>(out.width) > kMaxAspect)
    out = resize_bicubic_pil(out, out.width, out.width * kAspectFix);
  return out;
}

}  // namespace omnitune
