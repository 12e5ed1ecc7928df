#include "omnitune/media/smart_resize.h"

#include <algorithm>
#include <cmath>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {
// Python round(): halves go to the even neighbour.
double round_half_even(double x) {
  double r = std::round(x);
  if (std::abs(x - std::trunc(x)) == 0.5) r = 2.0 * std::round(x / 2.0);
  return r;
}
}  // namespace

std::pair<int64_t, int64_t> smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                         int64_t max_pixels) {
  if (height <= 0 || width <= 0) throw Error(cat("image of ", width, "x", height, " pixels has no area"));
  const double h = static_cast<double>(height), w = static_cast<double>(width), f = static_cast<double>(factor);
  if (std::max(h, w) / std::min(h, w) > 200)
    throw Error(cat("image of ", width, "x", height, " pixels: aspect ratio above 200 is not supported"));
  double h_bar = round_half_even(h / f) * f, w_bar = round_half_even(w / f) * f;
  if (h_bar * w_bar > static_cast<double>(max_pixels)) {
    double beta = std::sqrt(h * w / static_cast<double>(max_pixels));
    h_bar = std::max(f, std::floor(h / beta / f) * f);
    w_bar = std::max(f, std::floor(w / beta / f) * f);
  } else if (h_bar * w_bar < static_cast<double>(min_pixels)) {
    double beta = std::sqrt(static_cast<double>(min_pixels) / (h * w));
    h_bar = std::ceil(h * beta / f) * f;
    w_bar = std::ceil(w * beta / f) * f;
  }
  return {static_cast<int64_t>(h_bar), static_cast<int64_t>(w_bar)};
}

}  // namespace omnitune
