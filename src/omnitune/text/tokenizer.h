// text/tokenizer: the Qwen byte-level BPE tokenizer read from tokenizer.json, encoding and decoding
// exactly as Hugging Face `tokenizers` does (encode with add_special_tokens=False).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "omnitune/text/added_tokens.h"

namespace omnitune {

class Tokenizer {
 public:
  // Reads <dir>/tokenizer.json and, when it exists, <dir>/tokenizer_config.json (split_special_tokens,
  // and its added_tokens_decoder, which must agree with tokenizer.json). Throws Error naming the file
  // and the field for anything this implementation does not support.
  static Tokenizer from_dir(const std::string& dir);
  // tokenizer_config_json may be "" (none).
  static Tokenizer from_files(const std::string& tokenizer_json, const std::string& tokenizer_config_json);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of UTF-8 text: added tokens are atomic, the rest is NFC-normalised, pre-tokenized and
  // merged. Throws Error("invalid UTF-8 at byte offset N") for invalid input. Thread-safe.
  std::vector<int32_t> encode(std::string_view text) const;
  void encode(std::string_view text, std::vector<int32_t>& ids) const;  // appends to ids

  // The pieces encode merges, in order: added tokens (their content) and the pre-tokens of the
  // normalised text between them (raw UTF-8, not byte-level). For checks and debugging.
  std::vector<std::string> pre_tokenize(std::string_view text) const;

  // The text of ids (added tokens give their content; bytes that do not form UTF-8 become U+FFFD).
  // Throws Error for an id outside the vocabulary.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;  // added tokens or vocabulary strings
  std::optional<std::string> id_to_token(int32_t id) const;          // vocabulary strings are byte-level
  int32_t vocab_size() const;                                        // highest id + 1, added tokens included
  const std::vector<AddedToken>& added_tokens() const;
  bool is_special(int32_t id) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace omnitune
