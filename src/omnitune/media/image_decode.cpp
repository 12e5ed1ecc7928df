// decode_image: JPEG through libjpeg-turbo (the library PIL uses, with PIL's settings, so pixels match
// exactly), WebP through libwebp (likewise), PNG / BMP / GIF through stb_image (lossless formats: any
// correct decoder gives PIL's pixels; a GIF's transparent index gets its palette colour as in PIL).
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string_view>

#include <jerror.h>
#include <jpeglib.h>
#include <stb_image.h>
#include <webp/decode.h>

#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/media/image.h"
#include "omnitune/media/image_exif.h"

namespace omnitune {

namespace {

// PIL refuses images above twice its decompression-bomb threshold; so do we.
constexpr int64_t kMaxPixels = 2 * 89478485;

std::vector<uint8_t> read_file(const std::string& path) {
  require_regular_file(path, "image file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(cat(path, ": cannot open image file (", std::strerror(errno), ")"));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(cat(path, ": cannot read image file"));
  return bytes;
}

bool has_prefix(const std::vector<uint8_t>& bytes, size_t offset, std::string_view prefix) {
  return bytes.size() >= offset + prefix.size() &&
         std::memcmp(bytes.data() + offset, prefix.data(), prefix.size()) == 0;
}

// The format told by the file's first bytes.
bool sniff(const std::vector<uint8_t>& bytes, ImageContainer& container) {
  if (has_prefix(bytes, 0, "\xFF\xD8\xFF"))
    container = ImageContainer::jpeg;
  else if (has_prefix(bytes, 0, "\x89PNG\r\n\x1A\n"))
    container = ImageContainer::png;
  else if (has_prefix(bytes, 0, "RIFF") && has_prefix(bytes, 8, "WEBP"))
    container = ImageContainer::webp;
  else if (has_prefix(bytes, 0, "GIF87a") || has_prefix(bytes, 0, "GIF89a"))
    container = ImageContainer::gif;
  else if (has_prefix(bytes, 0, "BM"))
    container = ImageContainer::bmp;
  else
    return false;
  return true;
}

void check_size(int64_t width, int64_t height) {
  if (width <= 0 || height <= 0) throw Error(cat("image has no pixels (", width, "x", height, ")"));
  if (width * height > kMaxPixels)
    throw Error(cat("image of ", width, "x", height, " = ", width * height, " pixels is larger than the ", kMaxPixels,
                    " pixels PIL (the seed's reader) accepts as a decompression-bomb guard; resize it first"));
}

// The size a PNG, BMP or GIF header declares, checked before decoding (stb's own limits would otherwise
// report a large but valid image as corrupt). Headers too short to say are left to the decoder.
void check_header_size(const std::vector<uint8_t>& b, ImageContainer container) {
  auto be32 = [&](size_t at) {
    return int64_t(b[at]) << 24 | int64_t(b[at + 1]) << 16 | int64_t(b[at + 2]) << 8 | b[at + 3];
  };
  auto le32 = [&](size_t at) {
    return static_cast<int32_t>(uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 |
                                uint32_t(b[at + 3]) << 24);
  };
  auto le16 = [&](size_t at) { return int64_t(b[at]) | int64_t(b[at + 1]) << 8; };
  if (container == ImageContainer::png && b.size() >= 24 && has_prefix(b, 12, "IHDR")) check_size(be32(16), be32(20));
  if (container == ImageContainer::bmp && b.size() >= 26)
    check_size(std::abs(int64_t(le32(18))), std::abs(int64_t(le32(22))));
  if (container == ImageContainer::gif && b.size() >= 10) check_size(le16(6), le16(8));
}

RgbImage new_image(int64_t width, int64_t height) {
  check_size(width, height);
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width * height * 3));
  return image;
}

// ---- JPEG ---------------------------------------------------------------------------------------

struct JpegErrors {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  cinfo->err->format_message(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings about damaged data are tolerated as PIL tolerates them, except running out of data,
// which PIL reports as a truncated image.
void jpeg_warn(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) reinterpret_cast<JpegErrors*>(cinfo->err)->truncated = true;
}

// PIL's CMYK -> RGB: each colour channel is (255 - K) scaled down by its ink.
uint8_t cmyk_channel(int ink, int black) {
  const int white = 255 - black;
  const int t = ink * white + 128;
  const int v = white - (((t >> 8) + t) >> 8);
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Runs libjpeg; the caller owns every C++ object, so the longjmp out of libjpeg skips only C frames.
bool run_libjpeg(const std::vector<uint8_t>& bytes, jpeg_decompress_struct& cinfo, JpegErrors& errors, RgbImage& image,
                 std::vector<uint8_t>& row) {
  if (setjmp(errors.jump)) return false;
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  // PIL's modes: 1 component -> L, 4 -> CMYK (Adobe-inverted), otherwise RGB via libjpeg's conversion.
  if (cinfo.num_components == 1)
    cinfo.out_color_space = JCS_GRAYSCALE;
  else if (cinfo.num_components == 4)
    cinfo.out_color_space = JCS_CMYK;
  else
    cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  image = new_image(cinfo.output_width, cinfo.output_height);
  const int components = cinfo.output_components;
  row.resize(static_cast<size_t>(cinfo.output_width) * components);
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t* out = &image.pixels[static_cast<size_t>(cinfo.output_scanline) * cinfo.output_width * 3];
    JSAMPROW rows[1] = {row.data()};
    jpeg_read_scanlines(&cinfo, rows, 1);
    for (JDIMENSION x = 0; x < cinfo.output_width; ++x) {
      const uint8_t* in = &row[static_cast<size_t>(x) * components];
      if (components == 1) {
        out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[0];
      } else if (components == 4) {
        const int black = 255 - in[3];
        for (int c = 0; c < 3; ++c) out[3 * x + c] = cmyk_channel(255 - in[c], black);
      } else {
        std::memcpy(out + 3 * x, in, 3);
      }
    }
  }
  jpeg_finish_decompress(&cinfo);
  return true;
}

RgbImage decode_jpeg(const std::vector<uint8_t>& bytes) {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = jpeg_fail;
  errors.base.emit_message = jpeg_warn;
  errors.message[0] = 0;
  errors.truncated = false;
  RgbImage image;
  std::vector<uint8_t> row;
  bool ok = false;
  try {
    ok = run_libjpeg(bytes, cinfo, errors, image, row);
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  jpeg_destroy_decompress(&cinfo);
  if (!ok) throw Error(cat("corrupt JPEG data: ", errors.message));
  if (errors.truncated) throw Error("truncated JPEG data");
  return image;
}

// ---- WebP ---------------------------------------------------------------------------------------

RgbImage decode_webp(const std::vector<uint8_t>& bytes) {
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(bytes.data(), bytes.size(), &features) != VP8_STATUS_OK) throw Error("corrupt WebP data");
  if (features.has_animation) throw Error("animated WebP is not supported");
  RgbImage image = new_image(features.width, features.height);
  const size_t stride = static_cast<size_t>(image.width) * 3;
  if (!WebPDecodeRGBInto(bytes.data(), bytes.size(), image.pixels.data(), image.pixels.size(),
                         static_cast<int>(stride)))
    throw Error("corrupt WebP data");
  return image;
}

// ---- PNG, BMP, GIF ------------------------------------------------------------------------------

// stb pixels with `channels` channels per pixel (1..4); grey and palettes expanded, 16-bit samples cut
// to their high byte, GIFs reduced to their first frame.
stbi_uc* load_with_stb(const std::vector<uint8_t>& bytes, const char* format, int channels, int& width, int& height) {
  int found = 0;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw Error(cat(format, " file is too large"));
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &found))
    throw Error(cat("corrupt ", format, " data (", stbi_failure_reason(), ")"));
  check_size(width, height);
  stbi_uc* pixels =
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &found, channels);
  if (!pixels) throw Error(cat("corrupt ", format, " data (", stbi_failure_reason(), ")"));
  return pixels;
}

RgbImage decode_with_stb(const std::vector<uint8_t>& bytes, const char* format) {
  int width = 0, height = 0;
  stbi_uc* pixels = load_with_stb(bytes, format, 3, width, height);  // alpha dropped, not premultiplied
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.assign(pixels, pixels + static_cast<size_t>(width) * height * 3);
  stbi_image_free(pixels);
  return image;
}

// The colour PIL shows for the transparent palette index of a GIF's first frame (stb leaves those
// pixels black): read from the header, the first graphic control extension and the first frame's palette.
bool gif_transparent_colour(const std::vector<uint8_t>& bytes, uint8_t rgb[3]) {
  const size_t size = bytes.size();
  if (size < 13) return false;
  size_t pos = 13;
  const uint8_t* palette = nullptr;
  size_t palette_entries = 0;
  if (bytes[10] & 0x80) {
    palette_entries = size_t(1) << ((bytes[10] & 7) + 1);
    palette = bytes.data() + pos;
    pos += 3 * palette_entries;
  }
  int transparent = -1;
  while (pos < size) {
    const uint8_t block = bytes[pos];
    if (block == 0x21 && pos + 1 < size) {  // extension: label, then length-prefixed sub-blocks
      const uint8_t label = bytes[pos + 1];
      pos += 2;
      if (label == 0xF9 && pos + 5 <= size && bytes[pos] >= 4 && transparent < 0 && (bytes[pos + 1] & 1))
        transparent = bytes[pos + 4];
      while (pos < size && bytes[pos] != 0) pos += size_t(bytes[pos]) + 1;
      ++pos;
    } else if (block == 0x2C && pos + 10 <= size) {  // the first frame: its own palette wins
      if (bytes[pos + 9] & 0x80) {
        palette_entries = size_t(1) << ((bytes[pos + 9] & 7) + 1);
        palette = bytes.data() + pos + 10;
      }
      break;
    } else {
      return false;
    }
  }
  if (transparent < 0 || !palette || size_t(transparent) >= palette_entries ||
      palette + 3 * (transparent + 1) > bytes.data() + size)
    return false;
  std::memcpy(rgb, palette + 3 * transparent, 3);
  return true;
}

RgbImage decode_gif(const std::vector<uint8_t>& bytes) {
  int width = 0, height = 0;
  stbi_uc* pixels = load_with_stb(bytes, "GIF", 4, width, height);
  uint8_t clear[3] = {0, 0, 0};
  gif_transparent_colour(bytes, clear);
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < static_cast<size_t>(width) * height; ++i)
    std::memcpy(&image.pixels[3 * i], pixels[4 * i + 3] ? &pixels[4 * i] : clear, 3);
  stbi_image_free(pixels);
  return image;
}

}  // namespace

RgbImage decode_image(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  ImageContainer container;
  if (!sniff(bytes, container)) throw Error(cat(path, ": not a JPEG, PNG, WebP, BMP or GIF image"));
  RgbImage image;
  try {
    check_header_size(bytes, container);
    switch (container) {
      case ImageContainer::jpeg: image = decode_jpeg(bytes); break;
      case ImageContainer::webp: image = decode_webp(bytes); break;
      case ImageContainer::png: image = decode_with_stb(bytes, "PNG"); break;
      case ImageContainer::bmp: image = decode_with_stb(bytes, "BMP"); break;
      case ImageContainer::gif: image = decode_gif(bytes); break;
    }
  } catch (const Error& e) {
    throw Error(cat(path, ": ", e.what()));
  }
  return apply_exif_orientation(image, exif_orientation(bytes.data(), bytes.size(), container));
}

}  // namespace omnitune
