// text/bpe: a byte-level BPE model (vocabulary, merges by rank) and the merge loop that turns one
// pre-token into token ids, as Hugging Face `tokenizers` computes it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace omnitune {

class BpeModel {
 public:
  // `model` is the "model" object of a tokenizer.json (type BPE); `where` names it in errors.
  BpeModel(const nlohmann::json& model, const std::string& where);

  // Appends the ids of one pre-token, given as raw bytes (not yet mapped to the byte alphabet).
  void encode_word(std::string_view bytes, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(int32_t id) const;  // nullptr when the id is not in the vocabulary
  size_t vocab_size() const { return vocab_.size(); }
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  // Open addressing on the pair key (left << 32 | right); sized to a power of two, half full at most.
  struct MergeTable {
    std::vector<uint64_t> keys;
    std::vector<Merge> values;
    uint64_t mask = 0;
    int shift = 60;  // the slot is the top bits of a multiplicative hash
    void build(const std::vector<std::pair<uint64_t, Merge>>& entries);
    const Merge* find(uint64_t key) const;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  const Merge* find_merge(int32_t left, int32_t right) const { return merges_.find(pair_key(left, right)); }

  void merge_short(std::vector<int32_t>& symbols) const;
  void merge_long(std::vector<int32_t>& symbols) const;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> vocab_;
  std::vector<std::string> id_to_token_;  // "" for ids the vocabulary skips
  std::vector<bool> has_id_;
  MergeTable merges_;
  int32_t byte_ids_[256];  // -1 when the byte's symbol is not in the vocabulary (then it is dropped)
  bool ignore_merges_ = false;
  bool unique_results_ = true;  // no two merges make the same token (then the short loop is exact)
};

}  // namespace omnitune
