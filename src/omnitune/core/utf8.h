// core/utf8: validation and code-point iteration of UTF-8 text (tokenizer input, dataset strings).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace omnitune {

// Byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and code points above
// U+10FFFF are invalid), or npos when the whole text is valid.
size_t find_invalid_utf8(std::string_view text);

// Decodes the code point starting at text[pos] (text must be valid UTF-8) and advances pos.
uint32_t next_code_point(std::string_view text, size_t& pos);

}  // namespace omnitune
