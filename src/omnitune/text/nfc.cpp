#include "omnitune/text/nfc.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uniset.h>

#include <climits>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

// Hugging Face's normaliser carries Unicode 9.0 data: characters assigned later have no canonical
// combining class or composition there. Filtering ICU's NFC to the characters of Unicode 9.0 leaves
// the later ones untouched, acting as starters, which is what that data does with them.
const icu::Normalizer2& nfc() {
  static const icu::Normalizer2* instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* full = icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status)) throw Error(cat("ICU: cannot load the NFC normaliser: ", u_errorName(status)));
    auto* unicode9 = new icu::UnicodeSet(icu::UnicodeString(u"[:age=9.0:]"), status);
    if (U_FAILURE(status)) throw Error(cat("ICU: cannot build the Unicode 9.0 character set: ", u_errorName(status)));
    unicode9->freeze();
    return new icu::FilteredNormalizer2(*full, *unicode9);
  }();
  return *instance;
}

// Every code point below U+0300 is NFC and cannot combine with what precedes it; their UTF-8 lead
// bytes are all below 0xCC.
bool below_combining_marks(std::string_view utf8) {
  for (char c : utf8)
    if (static_cast<uint8_t>(c) >= 0xCC) return false;
  return true;
}

icu::StringPiece piece(std::string_view s) {
  if (s.size() > static_cast<size_t>(INT32_MAX))
    throw Error(cat("NFC: text of ", s.size(), " bytes is too long (2 GiB at most)"));
  return icu::StringPiece(s.data(), static_cast<int32_t>(s.size()));
}

}  // namespace

bool is_nfc(std::string_view utf8) {
  if (below_combining_marks(utf8)) return true;
  UErrorCode status = U_ZERO_ERROR;
  const bool yes = nfc().isNormalizedUTF8(piece(utf8), status);
  if (U_FAILURE(status)) throw Error(cat("ICU: NFC check failed: ", u_errorName(status)));
  return yes;
}

std::string to_nfc(std::string_view utf8) {
  if (is_nfc(utf8)) return std::string(utf8);
  std::string out;
  out.reserve(utf8.size() + 16);
  icu::StringByteSink<std::string> sink(&out);
  UErrorCode status = U_ZERO_ERROR;
  nfc().normalizeUTF8(0, piece(utf8), sink, nullptr, status);
  if (U_FAILURE(status)) throw Error(cat("ICU: NFC normalisation failed: ", u_errorName(status)));
  return out;
}

}  // namespace omnitune
