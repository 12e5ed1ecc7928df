#include "omnitune/media/image_resize.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "omnitune/core/error.h"

// Both bicubic resamplers are the same two-pass fixed-point scheme (PIL's ImagingResample, which
// torchvision's uint8 antialias kernel was ported from). They differ in three details that each move
// some outputs by one level, so each is reproduced:
//   * the outer lobe of the cubic is evaluated with a different operation order;
//   * PIL scales weights by 2^22 into int32; torchvision by the largest 2^p (p <= 22) that keeps every
//     weight within int16;
//   * torchvision caps the number of taps per output at its table width;
//   * Pillow 13 sometimes runs the vertical pass first (see resize_separable).

namespace omnitune {

namespace {

enum class Flavor { torchvision, pil };

constexpr double kCubicA = -0.5;  // Keys' cubic, as both libraries use when antialiasing

double cubic_torchvision(double x) {
  x = std::abs(x);
  if (x < 1.0) return ((kCubicA + 2) * x - (kCubicA + 3)) * x * x + 1;
  if (x < 2.0) return ((kCubicA * x - 5 * kCubicA) * x + 8 * kCubicA) * x - 4 * kCubicA;
  return 0.0;
}

double cubic_pil(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((kCubicA + 2.0) * x - (kCubicA + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * kCubicA;
  return 0.0;
}

// The fixed-point filter of one axis: output i reads count[i] inputs starting at first[i], with integer
// weights weight[i * stride + k] that sum to about 2^precision.
struct AxisFilter {
  int64_t stride = 0;
  int precision = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> weight;
};

int32_t round_away_from_zero(double v) {
  return v < 0 ? static_cast<int32_t>(-0.5 + v) : static_cast<int32_t>(0.5 + v);
}

AxisFilter bicubic_filter(int64_t in_size, int64_t out_size, Flavor flavor) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = scale >= 1.0 ? scale : 1.0;  // widen the kernel when shrinking (antialias)
  const double support = 2.0 * filter_scale;
  const double inverse = 1.0 / filter_scale;
  AxisFilter f;
  f.stride = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  f.first.resize(out_size);
  f.count.resize(out_size);
  std::vector<double> w(static_cast<size_t>(out_size * f.stride), 0.0);
  double w_max = 0.0;
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = scale * (static_cast<double>(i) + 0.5);
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    int64_t n = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size) - lo;
    n = std::clamp<int64_t>(n, 0, f.stride);  // torchvision's cap; PIL never exceeds it in practice
    double* row = &w[static_cast<size_t>(i * f.stride)];
    double total = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      const double x = (static_cast<double>(k + lo) - center + 0.5) * inverse;
      row[k] = flavor == Flavor::torchvision ? cubic_torchvision(x) : cubic_pil(x);
      total += row[k];
    }
    if (total != 0.0) {
      for (int64_t k = 0; k < n; ++k) {
        row[k] /= total;
        w_max = std::max(w_max, row[k]);
      }
    }
    f.first[i] = lo;
    f.count[i] = n;
  }
  if (flavor == Flavor::pil) {
    f.precision = 22;
  } else {
    // The largest precision whose doubled largest weight still fits int16 (capped at 22).
    for (f.precision = 0; f.precision < 22; ++f.precision) {
      const int next = static_cast<int>(0.5 + w_max * static_cast<double>(1 << (f.precision + 1)));
      if (next >= (1 << 15)) break;
    }
  }
  f.weight.resize(w.size());
  const double unit = static_cast<double>(1 << f.precision);
  for (size_t k = 0; k < w.size(); ++k) f.weight[k] = round_away_from_zero(w[k] * unit);
  return f;
}

uint8_t fixed_to_u8(int32_t acc, int precision) { return static_cast<uint8_t>(std::clamp(acc >> precision, 0, 255)); }

// Filters along the width: in is in_h x in_w, out is in_h x out_w.
void horizontal_pass(const RgbImage& in, RgbImage& out, const AxisFilter& f) {
  const int32_t half = f.precision > 0 ? 1 << (f.precision - 1) : 0;
  at::parallel_for(0, in.height, 16, [&](int64_t begin, int64_t end) {
    for (int64_t y = begin; y < end; ++y) {
      const uint8_t* src = &in.pixels[static_cast<size_t>(y * in.width * 3)];
      uint8_t* dst = &out.pixels[static_cast<size_t>(y * out.width * 3)];
      for (int64_t x = 0; x < out.width; ++x) {
        const int32_t* w = &f.weight[static_cast<size_t>(x * f.stride)];
        const uint8_t* s = src + f.first[x] * 3;
        int32_t r = half, g = half, b = half;
        for (int64_t k = 0; k < f.count[x]; ++k) {
          r += s[3 * k] * w[k];
          g += s[3 * k + 1] * w[k];
          b += s[3 * k + 2] * w[k];
        }
        dst[3 * x] = fixed_to_u8(r, f.precision);
        dst[3 * x + 1] = fixed_to_u8(g, f.precision);
        dst[3 * x + 2] = fixed_to_u8(b, f.precision);
      }
    }
  });
}

// Filters along the height: in is in_h x w, out is out_h x w.
void vertical_pass(const RgbImage& in, RgbImage& out, const AxisFilter& f) {
  const int32_t half = f.precision > 0 ? 1 << (f.precision - 1) : 0;
  const int64_t row_values = in.width * 3;
  at::parallel_for(0, out.height, 16, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> acc(static_cast<size_t>(row_values));
    for (int64_t y = begin; y < end; ++y) {
      std::fill(acc.begin(), acc.end(), half);
      const int32_t* w = &f.weight[static_cast<size_t>(y * f.stride)];
      for (int64_t k = 0; k < f.count[y]; ++k) {
        const uint8_t* src = &in.pixels[static_cast<size_t>((f.first[y] + k) * row_values)];
        const int32_t wk = w[k];
        for (int64_t v = 0; v < row_values; ++v) acc[v] += src[v] * wk;
      }
      uint8_t* dst = &out.pixels[static_cast<size_t>(y * row_values)];
      for (int64_t v = 0; v < row_values; ++v) dst[v] = fixed_to_u8(acc[v], f.precision);
    }
  });
}

void check_resize(const RgbImage& image, int64_t width, int64_t height) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width * image.height * 3))
    throw Error(cat("cannot resize an image of ", image.width, "x", image.height, " pixels holding ",
                    image.pixels.size(), " bytes"));
  if (width <= 0 || height <= 0) throw Error(cat("cannot resize an image to ", width, "x", height, " pixels"));
}

RgbImage blank(int64_t width, int64_t height) {
  RgbImage out;
  out.width = width;
  out.height = height;
  out.pixels.assign(static_cast<size_t>(width * height * 3), 0);
  return out;
}

RgbImage resize_width(const RgbImage& image, int64_t width, Flavor flavor) {
  if (width == image.width) return image;
  RgbImage out = blank(width, image.height);
  horizontal_pass(image, out, bicubic_filter(image.width, width, flavor));
  return out;
}

RgbImage resize_height(const RgbImage& image, int64_t height, Flavor flavor) {
  if (height == image.height) return image;
  RgbImage out = blank(image.width, height);
  vertical_pass(image, out, bicubic_filter(image.height, height, flavor));
  return out;
}

RgbImage resize_separable(const RgbImage& image, int64_t width, int64_t height, Flavor flavor) {
  check_resize(image, width, height);
  // Pillow 13 filters the height first when it shrinks by more than twice as many pixels as the width
  // does (older Pillow and torchvision always start with the width).
  const bool height_first =
      flavor == Flavor::pil && height < image.height && image.height - height > 2 * (image.width - width);
  if (height_first) return resize_width(resize_height(image, height, flavor), width, flavor);
  return resize_height(resize_width(image, width, flavor), height, flavor);
}

}  // namespace

RgbImage resize_bicubic(const RgbImage& image, int64_t width, int64_t height) {
  return resize_separable(image, width, height, Flavor::torchvision);
}

RgbImage resize_bicubic_pil(const RgbImage& image, int64_t width, int64_t height) {
  return resize_separable(image, width, height, Flavor::pil);
}

RgbImage resize_nearest_pil(const RgbImage& image, int64_t width, int64_t height) {
  check_resize(image, width, height);
  if (width == image.width && height == image.height) return image;
  // PIL maps output pixel i to source floor(a/2 + i*a), a = in/out, summing a step by step in double.
  const double step_x = static_cast<double>(image.width) / static_cast<double>(width);
  const double step_y = static_cast<double>(image.height) / static_cast<double>(height);
  auto source = [](double pos, int64_t size) -> int64_t {
    const int64_t i = pos < 0.0 ? -1 : static_cast<int>(pos);
    return i < size ? i : -1;
  };
  std::vector<int64_t> xs(static_cast<size_t>(width));
  double pos = step_x * 0.5;
  for (int64_t x = 0; x < width; ++x, pos += step_x) xs[x] = source(pos, image.width);
  RgbImage out = blank(width, height);
  pos = step_y * 0.5;
  for (int64_t y = 0; y < height; ++y, pos += step_y) {
    const int64_t sy = source(pos, image.height);
    if (sy < 0) continue;  // PIL leaves such rows zero-filled (never happens for plain resizes)
    const uint8_t* src = &image.pixels[static_cast<size_t>(sy * image.width * 3)];
    uint8_t* dst = &out.pixels[static_cast<size_t>(y * width * 3)];
    for (int64_t x = 0; x < width; ++x)
      if (xs[x] >= 0) std::memcpy(dst + 3 * x, src + 3 * xs[x], 3);
  }
  return out;
}

}  // namespace omnitune
