#include "omnitune/media/image_exif.h"

#include <cstring>
#include <string_view>
#include <vector>

namespace omnitune {

namespace {

uint32_t read_be16(const uint8_t* p) { return (uint32_t(p[0]) << 8) | p[1]; }
uint32_t read_be32(const uint8_t* p) { return (read_be16(p) << 16) | read_be16(p + 2); }
uint32_t read_le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

bool starts_with(const uint8_t* data, size_t size, std::string_view prefix) {
  return size >= prefix.size() && std::memcmp(data, prefix.data(), prefix.size()) == 0;
}

// PIL's XMP fallback: the first `tiff:Orientation="N` or `tiff:Orientation>N`.
int xmp_orientation(std::string_view xmp) {
  constexpr std::string_view key = "tiff:Orientation";
  for (size_t at = xmp.find(key); at != std::string_view::npos; at = xmp.find(key, at + 1)) {
    size_t p = at + key.size();
    if (xmp.substr(p, 2) == "=\"")
      p += 2;
    else if (xmp.substr(p, 1) == ">")
      p += 1;
    else
      continue;
    if (p < xmp.size() && xmp[p] >= '0' && xmp[p] <= '9') return xmp[p] - '0';
  }
  return 0;
}

// The EXIF block(s) and XMP packet a file carries, gathered the way PIL's image plugins gather them.
struct Metadata {
  std::vector<uint8_t> exif;
  std::string_view xmp;
};

void scan_jpeg(const uint8_t* data, size_t size, Metadata& meta) {
  constexpr std::string_view exif_tag{"Exif\0\0", 6};
  constexpr std::string_view xmp_tag{"http://ns.adobe.com/xap/1.0/\0", 29};
  size_t pos = 2;  // after SOI
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) {
      ++pos;  // junk between segments
      continue;
    }
    const uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length
      pos += 2;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) break;  // start of scan / end of image
    const size_t length = read_be16(data + pos + 2);
    if (length < 2 || pos + 2 + length > size) break;
    const uint8_t* body = data + pos + 4;
    const size_t body_size = length - 2;
    if (marker == 0xE1 && starts_with(body, body_size, exif_tag)) {
      // Later Exif segments are appended to the first (as PIL does), without their prefix.
      const size_t skip = meta.exif.empty() ? 0 : exif_tag.size();
      meta.exif.insert(meta.exif.end(), body + skip, body + body_size);
    } else if (marker == 0xE1 && starts_with(body, body_size, xmp_tag)) {
      meta.xmp = std::string_view(reinterpret_cast<const char*>(body) + xmp_tag.size(), body_size - xmp_tag.size());
    }
    pos += 2 + length;
  }
}

void scan_png(const uint8_t* data, size_t size, Metadata& meta) {
  constexpr std::string_view xmp_key{"XML:com.adobe.xmp\0", 18};
  size_t pos = 8;  // after the signature
  while (pos + 12 <= size) {
    const size_t length = read_be32(data + pos);
    if (length > size - pos - 12) break;
    const std::string_view type(reinterpret_cast<const char*>(data + pos + 4), 4);
    const uint8_t* body = data + pos + 8;
    if (type == "eXIf") {
      meta.exif.assign(body, body + length);
    } else if (type == "iTXt" && starts_with(body, length, xmp_key)) {
      // keyword \0, compression flag, method, language \0, translated keyword \0, text (uncompressed only)
      size_t p = xmp_key.size();
      if (p + 2 <= length && body[p] == 0) {
        p += 2;
        for (int field = 0; field < 2 && p < length; ++field) {
          while (p < length && body[p] != 0) ++p;
          ++p;
        }
        if (p <= length) meta.xmp = std::string_view(reinterpret_cast<const char*>(body) + p, length - p);
      }
    } else if (type == "IEND") {
      break;
    }
    pos += 12 + length;
  }
}

void scan_webp(const uint8_t* data, size_t size, Metadata& meta) {
  size_t pos = 12;  // after "RIFF" size "WEBP"
  while (pos + 8 <= size) {
    const std::string_view type(reinterpret_cast<const char*>(data + pos), 4);
    const size_t length = read_le32(data + pos + 4);
    if (length > size - pos - 8) break;
    const uint8_t* body = data + pos + 8;
    if (type == "EXIF") meta.exif.assign(body, body + length);
    if (type == "XMP ") meta.xmp = std::string_view(reinterpret_cast<const char*>(body), length);
    pos += 8 + length + (length & 1);
  }
}

}  // namespace

int tiff_orientation(const uint8_t* data, size_t size) {
  if (starts_with(data, size, std::string_view("Exif\0\0", 6))) {
    data += 6;
    size -= 6;
  }
  if (size < 8) return 0;
  bool little;
  if (data[0] == 'I' && data[1] == 'I')
    little = true;
  else if (data[0] == 'M' && data[1] == 'M')
    little = false;
  else
    return 0;
  auto u16 = [&](size_t at) -> uint32_t {
    return little ? data[at] | (uint32_t(data[at + 1]) << 8) : read_be16(data + at);
  };
  auto u32 = [&](size_t at) -> uint32_t { return little ? read_le32(data + at) : read_be32(data + at); };
  if (u16(2) != 42) return 0;
  const size_t ifd = u32(4);
  if (ifd > size - 2) return 0;
  const uint32_t entries = u16(ifd);
  for (uint32_t i = 0; i < entries; ++i) {
    const size_t entry = ifd + 2 + 12 * size_t(i);
    if (entry > size - 12) break;
    if (u16(entry) != 0x0112) continue;
    if (u32(entry + 4) != 1) return 0;  // PIL reads a tuple then, which matches no orientation
    switch (u16(entry + 2)) {
      case 1:  // BYTE
        return data[entry + 8];
      case 3:  // SHORT
        return static_cast<int>(u16(entry + 8));
      case 4:  // LONG
        return static_cast<int>(u32(entry + 8) & 0x7FFFFFFF);
      default: return 0;
    }
  }
  return 0;
}

int exif_orientation(const uint8_t* data, size_t size, ImageContainer container) {
  Metadata meta;
  switch (container) {
    case ImageContainer::jpeg: scan_jpeg(data, size, meta); break;
    case ImageContainer::png: scan_png(data, size, meta); break;
    case ImageContainer::webp: scan_webp(data, size, meta); break;
    default: return 1;
  }
  int orientation = meta.exif.empty() ? 0 : tiff_orientation(meta.exif.data(), meta.exif.size());
  if (orientation == 0 && !meta.xmp.empty()) orientation = xmp_orientation(meta.xmp);
  return orientation >= 1 && orientation <= 8 ? orientation : 1;
}

RgbImage apply_exif_orientation(const RgbImage& image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const int64_t w = image.width, h = image.height;
  const bool swap = orientation >= 5;  // the four transposing orientations swap width and height
  RgbImage out;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  out.pixels.resize(image.pixels.size());
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = 0; x < out.width; ++x) {
      int64_t sx = x, sy = y;  // source pixel of output (x, y)
      switch (orientation) {
        case 2: sx = w - 1 - x; break;  // mirror left-right
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;                        // rotate 180
        case 4: sy = h - 1 - y; break;  // flip top-bottom
        case 5:
          sx = y;
          sy = x;
          break;  // transpose
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;  // rotate 90 clockwise
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;  // transverse
        case 8:
          sx = w - 1 - y;
          sy = x;
          break;  // rotate 90 counter-clockwise
      }
      std::memcpy(&out.pixels[static_cast<size_t>((y * out.width + x) * 3)],
                  &image.pixels[static_cast<size_t>((sy * w + sx) * 3)], 3);
    }
  }
  return out;
}

}  // namespace omnitune
