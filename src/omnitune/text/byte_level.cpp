#include "omnitune/text/byte_level.h"

#include <array>

#include "omnitune/core/utf8.h"

namespace omnitune {

namespace {

bool stands_for_itself(uint32_t b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Alphabet {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 512> to_byte{};  // every code point of the alphabet is below U+0200
  Alphabet() {
    to_byte.fill(-1);
    uint32_t shifted = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      to_cp[b] = stands_for_itself(b) ? b : 0x100 + shifted++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet table;
  return table;
}

}  // namespace

uint32_t byte_to_code_point(uint8_t b) { return alphabet().to_cp[b]; }

std::optional<uint8_t> code_point_to_byte(uint32_t cp) {
  if (cp >= 512 || alphabet().to_byte[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(alphabet().to_byte[cp]);
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string bytes_to_symbols(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(out, byte_to_code_point(static_cast<uint8_t>(c)));
  return out;
}

std::string symbols_to_bytes(std::string_view symbols) {
  if (find_invalid_utf8(symbols) != std::string_view::npos) return std::string(symbols);
  std::string out;
  out.reserve(symbols.size());
  size_t pos = 0;
  while (pos < symbols.size()) {
    auto b = code_point_to_byte(next_code_point(symbols, pos));
    if (!b) return std::string(symbols);
    out += static_cast<char>(*b);
  }
  return out;
}

std::string utf8_lossy(std::string_view bytes) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<uint8_t>(bytes[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // Expected length and the allowed range of the second byte (the first continuation byte is
    // narrower after E0, ED, F0 and F4; C0, C1 and F5..FF never start a character).
    size_t length = 0;
    uint8_t low = 0x80, high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;
      if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;
    }
    size_t taken = 1;
    while (length > 0 && taken < length && i + taken < bytes.size()) {
      const auto cc = static_cast<uint8_t>(bytes[i + taken]);
      const bool ok = taken == 1 ? (cc >= low && cc <= high) : (cc >= 0x80 && cc <= 0xBF);
      if (!ok) break;
      ++taken;
    }
    if (length > 0 && taken == length) {
      out.append(bytes.substr(i, length));
    } else {
      out += kReplacement;
    }
    i += taken;
  }
  return out;
}

}  // namespace omnitune
