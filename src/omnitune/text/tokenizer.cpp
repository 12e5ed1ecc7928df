#include "omnitune/text/tokenizer.h"

#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/core/utf8.h"
#include "omnitune/text/bpe.h"
#include "omnitune/text/byte_level.h"
#include "omnitune/text/nfc.h"
#include "omnitune/text/onig_compat.h"
#include "omnitune/text/regex_split.h"

namespace omnitune {

namespace {

// The pre-tokenizer regex ByteLevel applies itself when use_regex is true (GPT-2's).
constexpr const char* kByteLevelPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

constexpr size_t kMaxCachedWord = 256;       // longer pre-tokens are merged every time
constexpr size_t kMaxCachedWords = 1 << 19;  // the cache starts over when it holds this many

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Pre-token -> its ids (a slice of `ids`). One encode call holds it at a time; others skip it.
struct WordCache {
  std::mutex mutex;
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, StringHash, std::equal_to<>> words;
  std::vector<int32_t> ids;
};

// Where the pipeline's output goes: ids (through the cache when it has it), or the pieces themselves.
struct Sink {
  std::vector<int32_t>* ids = nullptr;
  std::vector<std::string>* pieces = nullptr;
  WordCache* cache = nullptr;
};

bool flag(const nlohmann::json& j, const char* key, bool fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw Error(cat(where, ".", key, " must be true or false"));
  return j[key].get<bool>();
}

std::string type_of(const nlohmann::json& node, const std::string& where) {
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string())
    throw Error(cat(where, " must be an object with a \"type\""));
  return node["type"].get<std::string>();
}

}  // namespace

struct Tokenizer::Impl {
  std::string path;
  std::unique_ptr<BpeModel> bpe;
  bool nfc = false;
  std::vector<std::unique_ptr<RegexSplitter>> splitters;  // applied one after the other
  std::vector<AddedToken> added;
  std::unique_ptr<AddedTokenMatcher> raw_matcher;         // tokens with normalized = false
  std::unique_ptr<AddedTokenMatcher> normalized_matcher;  // tokens with normalized = true
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> added_ids;
  std::vector<const AddedToken*> added_by_id;  // indexed by id; nullptr for vocabulary ids
  std::vector<std::string> id_bytes;           // what each id decodes to
  mutable WordCache cache;

  void parse_normalizer(const nlohmann::json& node, const std::string& where);
  void parse_pre_tokenizer(const nlohmann::json& node, const std::string& where, bool& byte_level);
  void parse_added_tokens(const nlohmann::json& list, bool split_special_tokens);
  void check_config(const nlohmann::json& config, const std::string& where) const;

  void run(std::string_view text, Sink& sink) const;
  void added_token(int32_t id, Sink& sink) const;
  void encode_plain(std::string_view text, Sink& sink) const;
  void encode_normalized(std::string_view text, Sink& sink) const;
  void encode_split(size_t level, std::string_view text, Sink& sink) const;
  void encode_word(std::string_view word, Sink& sink) const;
};

void Tokenizer::Impl::parse_normalizer(const nlohmann::json& node, const std::string& where) {
  if (node.is_null()) return;
  const std::string type = type_of(node, where);
  if (type == "NFC") {
    nfc = true;
  } else if (type == "Sequence" && node.contains("normalizers") && node["normalizers"].is_array()) {
    for (size_t i = 0; i < node["normalizers"].size(); ++i)
      parse_normalizer(node["normalizers"][i], cat(where, ".normalizers[", i, "]"));
  } else {
    throw Error(cat(where, ": normalizer '", type, "' is not supported (only NFC)"));
  }
}

void Tokenizer::Impl::parse_pre_tokenizer(const nlohmann::json& node, const std::string& where, bool& byte_level) {
  if (node.is_null()) return;
  const std::string type = type_of(node, where);
  if (byte_level) throw Error(cat(where, ": a pre-tokenizer after ByteLevel is not supported"));
  if (type == "Sequence") {
    if (!node.contains("pretokenizers") || !node["pretokenizers"].is_array())
      throw Error(cat(where, ".pretokenizers must be an array"));
    for (size_t i = 0; i < node["pretokenizers"].size(); ++i)
      parse_pre_tokenizer(node["pretokenizers"][i], cat(where, ".pretokenizers[", i, "]"), byte_level);
  } else if (type == "Split") {
    const auto& pattern = node.value("pattern", nlohmann::json());
    const std::string behavior = node.value("behavior", std::string());
    if (behavior != "Isolated")
      throw Error(cat(where, ": Split behavior '", behavior, "' is not supported (only Isolated)"));
    if (flag(node, "invert", false, where)) throw Error(cat(where, ": Split with invert = true is not supported"));
    if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string())
      splitters.push_back(
          std::make_unique<RegexSplitter>(onig_pattern_for_pcre2(pattern["Regex"].get<std::string>()), false, where));
    else if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string())
      splitters.push_back(std::make_unique<RegexSplitter>(pattern["String"].get<std::string>(), true, where));
    else
      throw Error(cat(where, ".pattern must be {\"Regex\": ...} or {\"String\": ...}"));
  } else if (type == "ByteLevel") {
    if (flag(node, "add_prefix_space", true, where))
      throw Error(cat(where, ": ByteLevel with add_prefix_space = true is not supported"));
    if (flag(node, "use_regex", true, where))
      splitters.push_back(std::make_unique<RegexSplitter>(onig_pattern_for_pcre2(kByteLevelPattern), false, where));
    byte_level = true;
  } else {
    throw Error(cat(where, ": pre-tokenizer '", type, "' is not supported (only Split, ByteLevel and Sequence)"));
  }
}

void Tokenizer::Impl::parse_added_tokens(const nlohmann::json& list, bool split_special_tokens) {
  const std::string where = cat(path, ": added_tokens");
  if (list.is_null()) return;
  if (!list.is_array()) throw Error(cat(where, " must be an array"));
  int32_t max_added = -1;
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& t = list[i];
    const std::string at = cat(where, "[", i, "]");
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
        !t["content"].is_string())
      throw Error(cat(at, " must be an object with an integer \"id\" and a string \"content\""));
    AddedToken token;
    const int64_t id = t["id"].get<int64_t>();
    if (id < 0 || id > INT32_MAX) throw Error(cat(at, ".id ", id, " is out of range"));
    token.id = static_cast<int32_t>(id);
    token.content = t["content"].get<std::string>();
    if (token.content.empty()) continue;  // never matches (Hugging Face ignores it too)
    if (find_invalid_utf8(token.content) != std::string::npos) throw Error(cat(at, ".content is not valid UTF-8"));
    token.special = flag(t, "special", false, at);
    token.single_word = flag(t, "single_word", false, at);
    token.lstrip = flag(t, "lstrip", false, at);
    token.rstrip = flag(t, "rstrip", false, at);
    token.normalized = flag(t, "normalized", !token.special, at);
    if (added_ids.count(token.content)) throw Error(cat(at, ": \"", token.content, "\" is added twice"));
    // tokenizers ignores the ids of the file: a token already in the vocabulary keeps that id, any
    // other one gets the next id after the vocabulary and the tokens added before it.
    int32_t expected = static_cast<int32_t>(bpe->vocab_size());
    if (auto in_vocab = bpe->token_to_id(token.content)) {
      expected = *in_vocab;
    } else if (max_added >= expected) {
      expected = max_added + 1;
    }
    if (token.id != expected)
      throw Error(cat(at, ": \"", token.content, "\" has id ", token.id, ", but tokenizers gives it ", expected,
                      " (the next free id, or its id in the vocabulary); fix the file"));
    added_ids[token.content] = token.id;
    max_added = std::max(max_added, token.id);
    added.push_back(std::move(token));
  }
  // Special tokens first, then the others, each in file order (the order the matchers see them in).
  std::vector<AddedToken> raw, normalized;
  std::vector<std::string> raw_patterns, normalized_patterns;
  std::vector<bool> raw_skip, normalized_skip;
  for (int pass = 0; pass < 2; ++pass)
    for (const AddedToken& token : added) {
      if (token.special != (pass == 0)) continue;
      const bool skip = token.special && split_special_tokens;
      if (token.normalized) {
        normalized.push_back(token), normalized_patterns.push_back(nfc ? to_nfc(token.content) : token.content);
        normalized_skip.push_back(skip);
      } else {
        raw.push_back(token), raw_patterns.push_back(token.content), raw_skip.push_back(skip);
      }
    }
  if (!raw.empty())
    raw_matcher = std::make_unique<AddedTokenMatcher>(std::move(raw), std::move(raw_patterns), std::move(raw_skip));
  if (!normalized.empty())
    normalized_matcher = std::make_unique<AddedTokenMatcher>(std::move(normalized), std::move(normalized_patterns),
                                                             std::move(normalized_skip));
}

void Tokenizer::Impl::check_config(const nlohmann::json& config, const std::string& where) const {
  if (!config.contains("added_tokens_decoder")) return;
  const auto& decoder = config["added_tokens_decoder"];
  if (!decoder.is_object()) throw Error(cat(where, ": added_tokens_decoder must be an object"));
  for (const auto& [id_text, token] : decoder.items()) {
    const std::string at = cat(where, ": added_tokens_decoder[\"", id_text, "\"]");
    if (!token.is_object() || !token.contains("content") || !token["content"].is_string())
      throw Error(cat(at, " must be an object with a string \"content\""));
    const std::string content = token["content"].get<std::string>();
    auto it = added_ids.find(content);
    if (it == added_ids.end() || std::to_string(it->second) != id_text)
      throw Error(cat(at, " (\"", content, "\") is not an added token of ", path, " with that id; add it there"));
  }
}

void Tokenizer::Impl::encode_word(std::string_view word, Sink& sink) const {
  if (sink.pieces) {
    sink.pieces->emplace_back(word);
    return;
  }
  std::vector<int32_t>& ids = *sink.ids;
  WordCache* cache = sink.cache;
  if (!cache || word.size() > kMaxCachedWord || word.size() == 1) {
    bpe->encode_word(word, ids);
    return;
  }
  if (auto it = cache->words.find(word); it != cache->words.end()) {
    const auto [offset, count] = it->second;
    ids.insert(ids.end(), cache->ids.begin() + offset, cache->ids.begin() + offset + count);
    return;
  }
  const size_t first = ids.size();
  bpe->encode_word(word, ids);
  if (cache->words.size() >= kMaxCachedWords) cache->words.clear(), cache->ids.clear();
  const auto offset = static_cast<uint32_t>(cache->ids.size());
  cache->ids.insert(cache->ids.end(), ids.begin() + first, ids.end());
  cache->words.emplace(std::string(word), std::make_pair(offset, static_cast<uint32_t>(ids.size() - first)));
}

void Tokenizer::Impl::added_token(int32_t id, Sink& sink) const {
  if (sink.pieces)
    sink.pieces->push_back(added_by_id[id]->content);
  else
    sink.ids->push_back(id);
}

void Tokenizer::Impl::encode_split(size_t level, std::string_view text, Sink& sink) const {
  if (level == splitters.size()) {
    encode_word(text, sink);
    return;
  }
  std::vector<std::pair<size_t, size_t>> pieces;
  pieces.reserve(text.size() / 4 + 1);
  splitters[level]->split(text, pieces);
  for (const auto& [begin, end] : pieces) encode_split(level + 1, text.substr(begin, end - begin), sink);
}

void Tokenizer::Impl::encode_normalized(std::string_view text, Sink& sink) const {
  if (!normalized_matcher) {
    encode_split(0, text, sink);
    return;
  }
  std::vector<TextSpan> spans;
  normalized_matcher->split(text, spans);
  for (const TextSpan& span : spans) {
    if (span.id >= 0)
      added_token(span.id, sink);
    else
      encode_split(0, text.substr(span.begin, span.end - span.begin), sink);
  }
}

void Tokenizer::Impl::encode_plain(std::string_view text, Sink& sink) const {
  if (text.empty()) return;
  if (nfc && !is_nfc(text)) {
    const std::string normalized = to_nfc(text);
    encode_normalized(normalized, sink);
  } else {
    encode_normalized(text, sink);
  }
}

void Tokenizer::Impl::run(std::string_view text, Sink& sink) const {
  if (const size_t bad = find_invalid_utf8(text); bad != std::string_view::npos)
    throw Error(cat("invalid UTF-8 at byte offset ", bad));
  if (!raw_matcher) {
    encode_plain(text, sink);
    return;
  }
  std::vector<TextSpan> spans;
  raw_matcher->split(text, spans);
  for (const TextSpan& span : spans) {
    if (span.id >= 0)
      added_token(span.id, sink);
    else
      encode_plain(text.substr(span.begin, span.end - span.begin), sink);
  }
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  const auto config = std::filesystem::path(dir) / "tokenizer_config.json";
  return from_files((std::filesystem::path(dir) / "tokenizer.json").string(),
                    std::filesystem::exists(config) ? config.string() : std::string());
}

Tokenizer Tokenizer::from_files(const std::string& tokenizer_json, const std::string& tokenizer_config_json) {
  auto impl = std::make_unique<Impl>();
  impl->path = tokenizer_json;
  const std::string& where = impl->path;
  const nlohmann::json j = load_json_file(tokenizer_json);
  if (!j.is_object()) throw Error(cat(where, ": expected a JSON object"));
  for (const char* key : {"truncation", "padding"})
    if (j.contains(key) && !j[key].is_null()) throw Error(cat(where, ": \"", key, "\" is set; only null is supported"));
  if (!j.contains("model")) throw Error(cat(where, ": no \"model\""));
  impl->bpe = std::make_unique<BpeModel>(j["model"], where);
  impl->parse_normalizer(j.value("normalizer", nlohmann::json()), cat(where, ": normalizer"));
  bool byte_level = false;
  impl->parse_pre_tokenizer(j.value("pre_tokenizer", nlohmann::json()), cat(where, ": pre_tokenizer"), byte_level);
  if (!byte_level) throw Error(cat(where, ": the pre_tokenizer must end with ByteLevel (a byte-level BPE)"));
  const auto& decoder = j.value("decoder", nlohmann::json());
  if (type_of(decoder, cat(where, ": decoder")) != "ByteLevel")
    throw Error(cat(where, ": decoder '", decoder["type"].get<std::string>(), "' is not supported (only ByteLevel)"));

  nlohmann::json config = nlohmann::json::object();
  if (!tokenizer_config_json.empty()) config = load_json_file(tokenizer_config_json);
  if (!config.is_object()) throw Error(cat(tokenizer_config_json, ": expected a JSON object"));
  const bool split_special = flag(config, "split_special_tokens", false, tokenizer_config_json);
  impl->parse_added_tokens(j.value("added_tokens", nlohmann::json()), split_special);
  if (!tokenizer_config_json.empty()) impl->check_config(config, tokenizer_config_json);

  int32_t size = impl->bpe->max_id() + 1;
  for (const AddedToken& token : impl->added) size = std::max(size, token.id + 1);
  impl->added_by_id.assign(size, nullptr);
  impl->id_bytes.assign(size, std::string());
  for (int32_t id = 0; id <= impl->bpe->max_id(); ++id)
    if (const std::string* token = impl->bpe->id_to_token(id)) impl->id_bytes[id] = symbols_to_bytes(*token);
  for (const AddedToken& token : impl->added) {
    impl->added_by_id[token.id] = &token;
    impl->id_bytes[token.id] = symbols_to_bytes(token.content);
  }
  impl->cache.ids.reserve(1 << 20);
  return Tokenizer(std::move(impl));
}

void Tokenizer::encode(std::string_view text, std::vector<int32_t>& ids) const {
  std::unique_lock lock(impl_->cache.mutex, std::try_to_lock);
  Sink sink{&ids, nullptr, lock.owns_lock() ? &impl_->cache : nullptr};
  impl_->run(text, sink);
}

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view text) const {
  std::vector<std::string> pieces;
  Sink sink{nullptr, &pieces, nullptr};
  impl_->run(text, sink);
  return pieces;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  encode(text, ids);
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || (!impl_->added_by_id[id] && !impl_->bpe->id_to_token(id)))
      throw Error(cat("decode: id ", id, " is not in the vocabulary of ", impl_->path));
    if (skip_special_tokens && impl_->added_by_id[id] && impl_->added_by_id[id]->special) continue;
    bytes += impl_->id_bytes[id];
  }
  return utf8_lossy(bytes);
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto it = impl_->added_ids.find(token); it != impl_->added_ids.end()) return it->second;
  return impl_->bpe->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return std::nullopt;
  if (const AddedToken* token = impl_->added_by_id[id]) return token->content;
  if (const std::string* token = impl_->bpe->id_to_token(id)) return *token;
  return std::nullopt;
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->added_by_id.size()); }

const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && impl_->added_by_id[id] && impl_->added_by_id[id]->special;
}

}  // namespace omnitune
