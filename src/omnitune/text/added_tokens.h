// text/added_tokens: the tokens a tokenizer.json adds on top of its BPE vocabulary, and the matcher
// that cuts them out of text as atomic pieces before normalisation (Hugging Face's rules).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace omnitune {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;      // skipped by decode(skip_special_tokens)
  bool single_word = false;  // only matches when no word character touches it on either side
  bool lstrip = false;       // the match also takes the whitespace just before it
  bool rstrip = false;       // the match also takes the whitespace just after it
  bool normalized = false;   // matched in the normalised text instead of the raw text
};

// One piece of text: either an added token (id >= 0) or plain text to tokenize (id == -1).
struct TextSpan {
  size_t begin, end;
  int32_t id;
};

class AddedTokenMatcher {
 public:
  // `patterns[i]` is what token i is matched as (its content, or for normalized tokens the
  // normalised content). Tokens with `skip` set never match (special tokens when they are split).
  AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns, std::vector<bool> skip);

  bool empty() const { return tokens_.empty(); }

  // Cuts `text` (valid UTF-8) into spans covering it, added tokens leftmost-longest first. As in
  // Hugging Face, a span stripped by rstrip may overlap the next token's span.
  void split(std::string_view text, std::vector<TextSpan>& spans) const;

 private:
  std::vector<AddedToken> tokens_;
  std::vector<std::string> patterns_;
  std::vector<bool> skip_;
  std::vector<std::vector<uint32_t>> by_first_byte_;  // token indices, longest pattern first
  int only_first_byte_ = -1;  // the one byte every pattern starts with, or -2 (then scan byte by byte)
};

}  // namespace omnitune
