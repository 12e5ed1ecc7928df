#include "omnitune/media/image_patchify.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <array>

#include "omnitune/core/error.h"
#include "omnitune/media/smart_resize.h"

namespace omnitune {

VisionInput patchify_frames(const std::vector<RgbImage>& frames, int64_t min_pixels, int64_t max_pixels) {
  if (frames.empty()) throw Error("no frames to turn into vision patches");
  const int64_t in_w = frames[0].width, in_h = frames[0].height;
  for (size_t i = 0; i < frames.size(); ++i) {
    const RgbImage& f = frames[i];
    if (f.width != in_w || f.height != in_h)
      throw Error(cat("frame ", i, " is ", f.width, "x", f.height, " pixels, frame 0 is ", in_w, "x", in_h));
    if (f.pixels.size() != static_cast<size_t>(f.width * f.height * 3))
      throw Error(cat("frame ", i, " of ", f.width, "x", f.height, " pixels holds ", f.pixels.size(), " bytes"));
  }
  const auto [height, width] = smart_resize(in_h, in_w, kPatchSize * kMergeSize, min_pixels, max_pixels);
  std::vector<RgbImage> resized;
  resized.reserve(frames.size());
  for (const RgbImage& f : frames) resized.push_back(resize_bicubic(f, width, height));

  const int64_t count = static_cast<int64_t>(resized.size());
  const int64_t grid_t = (count + kTemporalPatchSize - 1) / kTemporalPatchSize;
  const int64_t grid_h = height / kPatchSize, grid_w = width / kPatchSize;
  const int64_t blocks_w = grid_w / kMergeSize;
  // (v/255 - 0.5)/0.5 as the processor computes it: mean and std folded into 127.5, in float32.
  std::array<float, 256> normalised;
  for (int v = 0; v < 256; ++v) normalised[v] = (static_cast<float>(v) - 127.5f) / 127.5f;

  at::Tensor pixel_values = at::empty({grid_t * grid_h * grid_w, kPatchValues}, at::kFloat);
  float* out = pixel_values.data_ptr<float>();
  const int64_t rows_per_t = grid_h * grid_w;
  at::parallel_for(0, grid_t * rows_per_t, 64, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t t = row / rows_per_t;
      const int64_t rest = row % rows_per_t;
      const int64_t block = rest / (kMergeSize * kMergeSize), within = rest % (kMergeSize * kMergeSize);
      const int64_t by = block / blocks_w, bx = block % blocks_w;
      const int64_t y0 = (by * kMergeSize + within / kMergeSize) * kPatchSize;
      const int64_t x0 = (bx * kMergeSize + within % kMergeSize) * kPatchSize;
      float* dst = out + row * kPatchValues;
      for (int64_t c = 0; c < 3; ++c) {
        for (int64_t tp = 0; tp < kTemporalPatchSize; ++tp) {
          const RgbImage& frame =
              resized[std::min(t * kTemporalPatchSize + tp, count - 1)];  // odd count: last repeated
          for (int64_t py = 0; py < kPatchSize; ++py) {
            const uint8_t* src = &frame.pixels[static_cast<size_t>(((y0 + py) * width + x0) * 3 + c)];
            for (int64_t px = 0; px < kPatchSize; ++px) *dst++ = normalised[src[px * 3]];
          }
        }
      }
    }
  });
  return {pixel_values, at::tensor(std::vector<int64_t>{grid_t, grid_h, grid_w}, at::kLong)};
}

}  // namespace omnitune
