// text/nfc: Unicode NFC normalisation of valid UTF-8 (the tokenizer's normaliser), via ICU, with the
// Unicode 9.0 character data Hugging Face `tokenizers` normalises with.
#pragma once

#include <string>
#include <string_view>

namespace omnitune {

// True when the text is already in NFC (cheap for text below U+0300, which always is).
bool is_nfc(std::string_view utf8);

// The NFC form of valid UTF-8 text.
std::string to_nfc(std::string_view utf8);

}  // namespace omnitune
