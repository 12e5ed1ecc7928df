#include "omnitune/text/added_tokens.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <cstring>

#include "omnitune/core/utf8.h"

namespace omnitune {

namespace {

// Unicode \w and \s as Rust's regex crate defines them (Hugging Face's single_word/lstrip/rstrip).
bool is_word_char(uint32_t c) {
  const auto cp = static_cast<UChar32>(c);
  if (u_hasBinaryProperty(cp, UCHAR_ALPHABETIC) || u_hasBinaryProperty(cp, UCHAR_JOIN_CONTROL)) return true;
  const int8_t type = u_charType(cp);
  return type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK || type == U_COMBINING_SPACING_MARK ||
         type == U_DECIMAL_DIGIT_NUMBER || type == U_CONNECTOR_PUNCTUATION;
}

bool is_space_char(uint32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE); }

size_t previous_char_start(std::string_view text, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<uint8_t>(text[i]) & 0xC0) == 0x80) --i;
  return i;
}

uint32_t char_before(std::string_view text, size_t end) {
  size_t i = previous_char_start(text, end);
  return next_code_point(text, i);
}

uint32_t char_at(std::string_view text, size_t begin) { return next_code_point(text, begin); }

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns,
                                     std::vector<bool> skip)
    : tokens_(std::move(tokens)), patterns_(std::move(patterns)), skip_(std::move(skip)), by_first_byte_(256) {
  for (uint32_t i = 0; i < tokens_.size(); ++i)
    if (!patterns_[i].empty()) by_first_byte_[static_cast<uint8_t>(patterns_[i][0])].push_back(i);
  for (int b = 0; b < 256; ++b) {
    if (by_first_byte_[b].empty()) continue;
    only_first_byte_ = only_first_byte_ == -1 ? b : -2;
  }
  if (only_first_byte_ == -1) only_first_byte_ = -2;
  for (auto& list : by_first_byte_)
    std::stable_sort(list.begin(), list.end(),
                     [&](uint32_t a, uint32_t b) { return patterns_[a].size() > patterns_[b].size(); });
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextSpan>& spans) const {
  size_t start_offset = 0;  // end of the last span emitted
  size_t pos = 0;           // where the search for the next match resumes
  if (only_first_byte_ >= 0) {
    const void* first = std::memchr(text.data(), only_first_byte_, text.size());
    pos = first ? static_cast<size_t>(static_cast<const char*>(first) - text.data()) : text.size();
  }
  while (pos < text.size()) {
    const auto& candidates = by_first_byte_[static_cast<uint8_t>(text[pos])];
    int64_t found = -1;
    for (uint32_t i : candidates) {
      const std::string& p = patterns_[i];
      if (p.size() <= text.size() - pos && std::memcmp(text.data() + pos, p.data(), p.size()) == 0) {
        found = i;
        break;
      }
    }
    if (found < 0) {
      ++pos;
      if (only_first_byte_ >= 0 && pos < text.size()) {  // jump to the next possible start
        const void* next = std::memchr(text.data() + pos, only_first_byte_, text.size() - pos);
        pos = next ? static_cast<size_t>(static_cast<const char*>(next) - text.data()) : text.size();
      }
      continue;
    }
    const AddedToken& token = tokens_[found];
    size_t begin = pos, end = pos + patterns_[found].size();
    pos = end;
    if (skip_[found]) continue;
    if (token.single_word) {
      const bool word_before = begin > 0 && is_word_char(char_before(text, begin));
      const bool word_after = end < text.size() && is_word_char(char_at(text, end));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      size_t b = begin;
      while (b > 0 && is_space_char(char_before(text, b))) b = previous_char_start(text, b);
      begin = std::max(b, start_offset);
    }
    if (token.rstrip) {
      size_t e = end;
      while (e < text.size()) {
        size_t next = e;
        if (!is_space_char(next_code_point(text, next))) break;
        e = next;
      }
      end = e;
    }
    if (start_offset < begin) spans.push_back({start_offset, begin, -1});
    spans.push_back({begin, end, token.id});
    start_offset = end;
  }
  if (start_offset < text.size()) spans.push_back({start_offset, text.size(), -1});
}

}  // namespace omnitune
