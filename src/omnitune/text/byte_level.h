// text/byte_level: the GPT-2 byte-level alphabet (every byte mapped to a printable code point) that
// byte-level BPE vocabularies are written in, both ways.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace omnitune {

// The code point standing for byte b in vocabulary strings (printable Latin-1 bytes stand for
// themselves; the others are moved to U+0100 and up, in byte order).
uint32_t byte_to_code_point(uint8_t b);

// The byte a code point stands for, or nullopt when it is not part of the alphabet.
std::optional<uint8_t> code_point_to_byte(uint32_t cp);

// The vocabulary spelling of raw bytes ("Hello world" -> "HelloĠworld").
std::string bytes_to_symbols(std::string_view bytes);

// The raw bytes behind a vocabulary string. A string with any character outside the alphabet is
// returned unchanged (added tokens such as "<|im_start|>" decode to their text this way).
std::string symbols_to_bytes(std::string_view symbols);

// Appends the UTF-8 encoding of a code point.
void append_utf8(std::string& out, uint32_t cp);

// Valid UTF-8 from arbitrary bytes: each maximal invalid subsequence becomes U+FFFD.
std::string utf8_lossy(std::string_view bytes);

}  // namespace omnitune
