// Images and videos for the vision tower: resamplers, EXIF orientation, decoding errors, patch layout and
// frame sampling. Parity with PIL / torchvision / transformers is in tests/python/test_vision_inputs.py.
#include <ATen/ATen.h>

#include <cstring>

#include "omnitune/media/image.h"
#include "omnitune/media/image_exif.h"
#include "omnitune/media/image_patchify.h"
#include "omnitune/media/image_preresize.h"
#include "omnitune/media/image_resize.h"
#include "omnitune/media/video.h"
#include "omnitune/media/video_sampling.h"
#include "test_util.h"

namespace omnitune {
namespace {

using test::error_of;
using test::TempDir;

// Pixel (x, y) channel c = (x * 7 + y * 13 + c * 50) mod 256: every position distinguishable.
RgbImage pattern(int64_t width, int64_t height) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width * height * 3));
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (int64_t c = 0; c < 3; ++c)
        image.pixels[(y * width + x) * 3 + c] = static_cast<uint8_t>((x * 7 + y * 13 + c * 50) % 256);
  return image;
}

RgbImage constant(int64_t width, int64_t height, uint8_t r, uint8_t g, uint8_t b) {
  RgbImage image;
  image.width = width;
  image.height = height;
  for (int64_t i = 0; i < width * height; ++i) image.pixels.insert(image.pixels.end(), {r, g, b});
  return image;
}

uint8_t at_pixel(const RgbImage& image, int64_t x, int64_t y, int64_t c) {
  return image.pixels[(y * image.width + x) * 3 + c];
}

// A 24-bit bottom-up BMP of `image`.
std::string bmp_bytes(const RgbImage& image) {
  const int64_t row = (image.width * 3 + 3) / 4 * 4;
  const int64_t size = 54 + row * image.height;
  std::string out(static_cast<size_t>(size), '\0');
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&out[at], &v, 4); };
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&out[at], &v, 2); };
  out[0] = 'B';
  out[1] = 'M';
  put32(2, static_cast<uint32_t>(size));
  put32(10, 54);
  put32(14, 40);
  put32(18, static_cast<uint32_t>(image.width));
  put32(22, static_cast<uint32_t>(image.height));
  put16(26, 1);
  put16(28, 24);
  put32(34, static_cast<uint32_t>(row * image.height));
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width; ++x)
      for (int64_t c = 0; c < 3; ++c)
        out[static_cast<size_t>(54 + (image.height - 1 - y) * row + x * 3 + c)] =
            static_cast<char>(at_pixel(image, x, y, 2 - c));
  return out;
}

TEST(ImageResize, SameSizeIsACopy) {
  const RgbImage image = pattern(9, 5);
  EXPECT_EQ(resize_bicubic(image, 9, 5).pixels, image.pixels);
  EXPECT_EQ(resize_bicubic_pil(image, 9, 5).pixels, image.pixels);
  EXPECT_EQ(resize_nearest_pil(image, 9, 5).pixels, image.pixels);
}

TEST(ImageResize, BicubicKeepsAFlatImageFlat) {
  const RgbImage flat = constant(37, 23, 200, 17, 255);
  for (auto [w, h] : {std::pair{64, 64}, {10, 7}, {37, 100}, {5, 23}, {300, 1}}) {
    for (const RgbImage& out : {resize_bicubic(flat, w, h), resize_bicubic_pil(flat, w, h)}) {
      ASSERT_EQ(out.width, w);
      ASSERT_EQ(out.height, h);
      for (int64_t i = 0; i < w * h; ++i) {
        ASSERT_EQ(out.pixels[i * 3], 200);
        ASSERT_EQ(out.pixels[i * 3 + 1], 17);
        ASSERT_EQ(out.pixels[i * 3 + 2], 255);
      }
    }
  }
}

// Position-weighted sum of all values: sum of v[i] * (i % 251 + 1).
int64_t checksum(const RgbImage& image) {
  int64_t sum = 0;
  for (size_t i = 0; i < image.pixels.size(); ++i) sum += int64_t(image.pixels[i]) * int64_t(i % 251 + 1);
  return sum;
}

TEST(ImageResize, MatchesTorchvisionAndPilOnKnownCases) {
  // Checksums of torchvision.transforms.v2.functional.resize(BICUBIC, antialias=True) and of PIL's
  // Image.resize (BICUBIC, NEAREST) of the 37x100 pattern, from torchvision 0.26 / Pillow 13. The sharp
  // wrap-arounds of the pattern make the two bicubic flavours differ in 963 of 6144 values.
  const RgbImage image = pattern(37, 100);
  EXPECT_EQ(checksum(resize_bicubic(image, 32, 64)), 97958634);
  EXPECT_EQ(checksum(resize_bicubic_pil(image, 32, 64)), 97951729);
  EXPECT_EQ(checksum(resize_bicubic(image, 23, 150)), 165673911);
  EXPECT_EQ(checksum(resize_bicubic_pil(image, 23, 150)), 165678831);
  EXPECT_EQ(checksum(resize_nearest_pil(image, 23, 150)), 165637258);
  EXPECT_EQ(at_pixel(resize_bicubic(image, 32, 64), 22, 0, 1), 241);
  EXPECT_EQ(at_pixel(resize_bicubic_pil(image, 32, 64), 22, 0, 1), 240);
}

TEST(ImageResize, NearestPicksPilSourcePixels) {
  const RgbImage image = pattern(4, 2);
  const RgbImage half = resize_nearest_pil(image, 2, 1);  // sources floor(0.5 * 2 + i * 2) = 1, 3; row 1
  EXPECT_EQ(at_pixel(half, 0, 0, 0), at_pixel(image, 1, 1, 0));
  EXPECT_EQ(at_pixel(half, 1, 0, 0), at_pixel(image, 3, 1, 0));
  const RgbImage twice = resize_nearest_pil(image, 8, 4);  // sources 0,0,1,1,2,2,3,3
  for (int64_t x = 0; x < 8; ++x) EXPECT_EQ(at_pixel(twice, x, 3, 1), at_pixel(image, x / 2, 1, 1)) << x;
}

TEST(ImageResize, RejectsEmptyTargets) {
  EXPECT_NE(error_of([] { resize_bicubic(pattern(4, 4), 0, 3); }).find("0x3"), std::string::npos);
  RgbImage broken = pattern(4, 4);
  broken.pixels.pop_back();
  EXPECT_NE(error_of([&] { resize_bicubic_pil(broken, 2, 2); }).find("47 bytes"), std::string::npos);
}

TEST(ImageExif, OrientationsMoveCornersLikePil) {
  const RgbImage image = pattern(3, 2);  // top-left (0,0), top-right (2,0), bottom-left (0,1)
  struct Case {
    int orientation;
    int64_t width, height;
    int64_t src_x, src_y;  // source of the output's top-left pixel
  };
  for (const Case& c : {Case{1, 3, 2, 0, 0}, Case{2, 3, 2, 2, 0}, Case{3, 3, 2, 2, 1}, Case{4, 3, 2, 0, 1},
                        Case{5, 2, 3, 0, 0}, Case{6, 2, 3, 0, 1}, Case{7, 2, 3, 2, 1}, Case{8, 2, 3, 2, 0}}) {
    const RgbImage out = apply_exif_orientation(image, c.orientation);
    ASSERT_EQ(out.width, c.width) << c.orientation;
    ASSERT_EQ(out.height, c.height) << c.orientation;
    for (int64_t ch = 0; ch < 3; ++ch)
      EXPECT_EQ(at_pixel(out, 0, 0, ch), at_pixel(image, c.src_x, c.src_y, ch)) << c.orientation;
  }
  // Rotating 90 degrees clockwise (6) then counter-clockwise (8) is the identity.
  EXPECT_EQ(apply_exif_orientation(apply_exif_orientation(image, 6), 8).pixels, image.pixels);
}

TEST(ImageExif, ReadsTheOrientationTagInBothByteOrders) {
  // IFD0 with one entry: tag 0x0112, SHORT, count 1, value 6.
  const uint8_t little[] = {'E', 'x', 'i',  'f',  0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                            1,   0,   0x12, 0x01, 3, 0, 1,   0,   0,  0, 6, 0, 0, 0};
  const uint8_t big[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0};
  EXPECT_EQ(tiff_orientation(little, sizeof little), 6);
  EXPECT_EQ(tiff_orientation(big, sizeof big), 8);
  EXPECT_EQ(tiff_orientation(little, 12), 0);  // cut short: no orientation
  // Wrapped in a JPEG APP1 segment.
  std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xE1, 0, static_cast<uint8_t>(2 + sizeof little)};
  jpeg.insert(jpeg.end(), little, little + sizeof little);
  jpeg.insert(jpeg.end(), {0xFF, 0xD9});
  EXPECT_EQ(exif_orientation(jpeg.data(), jpeg.size(), ImageContainer::jpeg), 6);
  EXPECT_EQ(exif_orientation(jpeg.data(), jpeg.size(), ImageContainer::bmp), 1);
}

TEST(ImageDecode, ReadsABmp) {
  TempDir dir;
  const RgbImage image = pattern(7, 3);
  test::write_text(dir.file("p.bmp"), bmp_bytes(image));
  const RgbImage decoded = decode_image(dir.file("p.bmp"));
  EXPECT_EQ(decoded.width, 7);
  EXPECT_EQ(decoded.height, 3);
  EXPECT_EQ(decoded.pixels, image.pixels);
}

TEST(ImageDecode, ErrorsNameTheFile) {
  TempDir dir;
  const std::string missing = dir.file("missing.png");
  EXPECT_NE(error_of([&] { decode_image(missing); }).find("image file " + missing + ": no such file"),
            std::string::npos);
  test::write_text(dir.file("text.jpg"), "this is not a picture\n");
  EXPECT_NE(error_of([&] { decode_image(dir.file("text.jpg")); }).find("text.jpg: not a JPEG, PNG, WebP, BMP or GIF"),
            std::string::npos);
  test::write_text(dir.file("bad.jpg"), std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00garbage garbage", 24));
  EXPECT_NE(error_of([&] { decode_image(dir.file("bad.jpg")); }).find("bad.jpg: "), std::string::npos);
  test::write_text(dir.file("bad.png"), std::string("\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR", 16));
  EXPECT_NE(error_of([&] { decode_image(dir.file("bad.png")); }).find("bad.png: corrupt PNG data"), std::string::npos);
  test::write_text(dir.file("bad.webp"), std::string("RIFF\x10\0\0\0WEBPVP8 nonsense", 24));
  EXPECT_NE(error_of([&] { decode_image(dir.file("bad.webp")); }).find("bad.webp: corrupt WebP data"),
            std::string::npos);
}

TEST(ImagePatchify, FlattenOrderIsBlockMajor) {
  const RgbImage image = pattern(64, 32);  // 2 x 4 patches = 1 x 2 merge blocks, no resize needed
  const VisionInput input = patchify_frames({image}, 1024, 1 << 20);
  ASSERT_EQ(input.pixel_values.sizes(), (std::vector<int64_t>{8, 1536}));
  EXPECT_EQ(input.grid_thw.dtype(), at::kLong);
  EXPECT_TRUE(at::equal(input.grid_thw, at::tensor(std::vector<int64_t>{1, 2, 4}, at::kLong)));
  const auto value = [&](int64_t x, int64_t y, int64_t c) {
    return (static_cast<float>(at_pixel(image, x, y, c)) - 127.5f) / 127.5f;
  };
  const auto pv = input.pixel_values.accessor<float, 2>();
  // Row 5 = block 1 (columns 32..63), in-block (row 0, col 1) -> patch origin (x 48, y 0).
  // Column = (channel 2, frame 1, py 3, px 4) -> 2*512 + 256 + 3*16 + 4.
  EXPECT_EQ(pv[5][2 * 512 + 256 + 3 * 16 + 4], value(48 + 4, 3, 2));
  // Row 2 = block 0, in-block (row 1, col 0) -> patch origin (x 0, y 16). Frame 0 and 1 are the same image.
  EXPECT_EQ(pv[2][0 * 512 + 0 + 15 * 16 + 15], value(15, 31, 0));
  EXPECT_EQ(pv[2][256 + 15 * 16 + 15], value(15, 31, 0));
}

TEST(ImagePatchify, OddFrameCountsRepeatTheLastFrame) {
  const VisionInput input = patchify_frames(
      {constant(32, 32, 0, 0, 0), constant(32, 32, 255, 255, 255), constant(32, 32, 51, 51, 51)}, 1024, 1 << 20);
  ASSERT_EQ(input.pixel_values.size(0), 2 * 4);
  EXPECT_TRUE(at::equal(input.grid_thw, at::tensor(std::vector<int64_t>{2, 2, 2}, at::kLong)));
  const auto pv = input.pixel_values.accessor<float, 2>();
  EXPECT_EQ(pv[0][0], -1.0f);       // t 0, frame 0
  EXPECT_EQ(pv[0][256], 1.0f);      // t 0, frame 1
  EXPECT_EQ(pv[4][0], pv[4][256]);  // t 1: frame 2 and its copy
  EXPECT_EQ(pv[4][0], (51.0f - 127.5f) / 127.5f);
  EXPECT_NE(error_of([] {
              patchify_frames({constant(32, 32, 0, 0, 0), constant(64, 32, 0, 0, 0)}, 1024, 1 << 20);
            }).find("frame 1 is 64x32"),
            std::string::npos);
}

TEST(ImageProcess, SmartResizeDecidesTheGrid) {
  const VisionInput input = process_image(pattern(640, 480), ImageOptions{});
  EXPECT_TRUE(at::equal(input.grid_thw, at::tensor(std::vector<int64_t>{1, 30, 40}, at::kLong)));
  EXPECT_EQ(input.pixel_values.size(0), 30 * 40);
  // A tiny image is scaled up to min_pixels, then its short side to 28, then by the processor.
  const RgbImage tiny = pattern(10, 7);
  const RgbImage pre = preresize_image(tiny, ImageOptions{});
  EXPECT_EQ(pre.width, 38);   // int(10 * sqrt(1024 / 70))
  EXPECT_EQ(pre.height, 28);  // int(7 * 3.82) = 26, raised to 28
  const VisionInput small = process_image(tiny, ImageOptions{});
  EXPECT_TRUE(at::equal(small.grid_thw, at::tensor(std::vector<int64_t>{1, 4, 6}, at::kLong)));
  // Above max_pixels: scaled down by sqrt(max / area) first.
  const RgbImage big = preresize_image(constant(3000, 2000, 1, 2, 3), ImageOptions{});
  EXPECT_EQ(big.width, 940);
  EXPECT_EQ(big.height, 627);
}

TEST(ImageProcess, ExtremeAspectRatiosAreFixedUp) {
  const RgbImage wide = seed_preresize(constant(2000, 12, 9, 9, 9), 1024, 589824, PreResizeFilter::bicubic);
  EXPECT_EQ(wide.width, 2000);
  EXPECT_EQ(wide.height, 28);
  const RgbImage thin = seed_preresize(constant(1, 400, 9, 9, 9), 16, 589824, PreResizeFilter::nearest);
  EXPECT_EQ(thin.width, 28);
  EXPECT_EQ(thin.height, 400);
  const RgbImage needle = seed_preresize(constant(30, 9000, 9, 9, 9), 16, 1 << 20, PreResizeFilter::bicubic);
  EXPECT_EQ(needle.width, 30);
  EXPECT_EQ(needle.height, 30 * 180);
}

TEST(VideoSampling, FollowsTheSeedRule) {
  // 90 frames over 3 s at 2 fps: 6 frames at trunc(linspace(0, 89, 6)).
  FrameSampling s = sample_frame_indices(90, 3.0, 2.0, 128);
  EXPECT_EQ(s.indices, (std::vector<int64_t>{0, 17, 35, 53, 71, 89}));
  EXPECT_DOUBLE_EQ(s.fps, 2.0);
  // Capped by max_frames; the effective rate follows the count.
  s = sample_frame_indices(300, 10.0, 2.0, 4);
  EXPECT_EQ(s.indices, (std::vector<int64_t>{0, 99, 199, 299}));
  EXPECT_DOUBLE_EQ(s.fps, 0.4);
  // Short videos: at least one frame; never more frames than the video has.
  EXPECT_EQ(sample_frame_indices(5, 0.2, 2.0, 128).indices, (std::vector<int64_t>{0}));
  EXPECT_EQ(sample_frame_indices(3, 10.0, 2.0, 128).indices, (std::vector<int64_t>{0, 1, 2}));
  // Unknown duration: as many frames as allowed, at the requested rate.
  s = sample_frame_indices(10, -1, 2.0, 4);
  EXPECT_EQ(s.indices, (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_DOUBLE_EQ(s.fps, 2.0);
  EXPECT_NE(error_of([] { sample_frame_indices(0, 1.0, 2.0, 4); }).find("no frames"), std::string::npos);
}

TEST(VideoDecode, ErrorsNameTheFile) {
  TempDir dir;
  const std::string missing = dir.file("missing.mp4");
  EXPECT_NE(error_of([&] { load_video(missing, VideoOptions{}); }).find("video file " + missing + ": no such file"),
            std::string::npos);
  test::write_text(dir.file("text.mp4"), "this is not a video\n");
  EXPECT_NE(error_of([&] { load_video(dir.file("text.mp4"), VideoOptions{}); }).find("text.mp4: "), std::string::npos);
  // A picture is a one-frame video to FFmpeg; a BMP works.
  test::write_text(dir.file("still.bmp"), bmp_bytes(pattern(40, 30)));
  const VideoInput still = load_video(dir.file("still.bmp"), VideoOptions{});
  EXPECT_EQ(still.frame_indices, std::vector<int64_t>{0});
  EXPECT_EQ(still.grid_thw[0].item<int64_t>(), 1);
}

}  // namespace
}  // namespace omnitune
