// text/regex_split: the Split pre-tokenizer (a regex with the "Isolated" behaviour: every match and
// every gap between matches is a piece) on PCRE2 with JIT, UTF and Unicode properties.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omnitune {

class RegexSplitter {
 public:
  // `literal`: the pattern is a plain string, not a regex. Throws Error (naming `where`) when PCRE2
  // rejects the pattern.
  RegexSplitter(const std::string& pattern, bool literal, const std::string& where);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Appends the [begin, end) byte spans of the pieces of `text` (valid UTF-8), in order; no piece is
  // empty and together they cover the text. Safe to call from several threads at once.
  void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& pieces) const;

 private:
  void* code_ = nullptr;  // pcre2_code_8
  bool jit_ = false;
  std::string where_;
};

}  // namespace omnitune
