#include "omnitune/text/tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "omnitune/text/byte_level.h"
#include "omnitune/text/onig_compat.h"
#include "test_util.h"

namespace omnitune {
namespace {

using Ids = std::vector<int32_t>;

const Tokenizer& qwen() {
  static const Tokenizer tokenizer = Tokenizer::from_dir(OMNITUNE_SOURCE_DIR "/assets/tokenizer/qwen3-omni");
  return tokenizer;
}

TEST(Tokenizer, EncodesLikeHuggingFace) {
  EXPECT_EQ(qwen().encode("Hello, 世界! 123"), (Ids{9707, 11, 220, 99489, 0, 220, 16, 17, 18}));
  EXPECT_EQ(qwen().encode(""), Ids{});
  EXPECT_EQ(qwen().decode(Ids{9707, 11, 220, 99489, 0, 220, 16, 17, 18}), "Hello, 世界! 123");
}

TEST(Tokenizer, AddedTokensAreAtomic) {
  const Tokenizer& t = qwen();
  EXPECT_EQ(t.encode("<|im_start|>"), Ids{151644});
  EXPECT_EQ(t.encode("<|audio_pad|><|image_pad|><think></think>"), (Ids{151675, 151655, 151667, 151668}));
  const Ids ids = t.encode("<|im_start|>user\nhi<|im_end|>");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 151644);
  EXPECT_EQ(ids.back(), 151645);
  EXPECT_EQ(t.decode(ids), "<|im_start|>user\nhi<|im_end|>");
  EXPECT_EQ(t.decode(ids, /*skip_special_tokens=*/true), "user\nhi");
  // Not an added token: plain text.
  EXPECT_GT(t.encode("<|im_star|>").size(), 1u);
  EXPECT_EQ(t.encode("a<think>b"), (Ids{t.encode("a")[0], 151667, t.encode("b")[0]}));
}

TEST(Tokenizer, NormalisesToNfc) {
  const Tokenizer& t = qwen();
  EXPECT_EQ(t.encode("caf\xC3\xA9"), t.encode("cafe\xCC\x81"));  // é vs e + combining acute
  EXPECT_EQ(t.decode(t.encode("cafe\xCC\x81")), "caf\xC3\xA9");
  EXPECT_EQ(t.encode("\xE1\x84\x80\xE1\x85\xA1"), t.encode("\xEA\xB0\x80"));  // Hangul jamo -> 가
}

TEST(Tokenizer, VocabularyLookups) {
  const Tokenizer& t = qwen();
  EXPECT_EQ(t.vocab_size(), 151676);
  EXPECT_EQ(t.token_to_id("<|audio_start|>"), 151669);
  EXPECT_EQ(t.token_to_id("Hello"), 9707);
  EXPECT_EQ(t.token_to_id("no such token here"), std::nullopt);
  EXPECT_EQ(t.id_to_token(220), "Ġ");
  EXPECT_EQ(t.id_to_token(151657), "<tool_call>");
  EXPECT_EQ(t.id_to_token(152000), std::nullopt);
  EXPECT_TRUE(t.is_special(151643));
  EXPECT_FALSE(t.is_special(151657));  // <tool_call> is added but not special
  EXPECT_FALSE(t.is_special(9707));
  EXPECT_EQ(t.added_tokens().size(), 33u);
}

TEST(Tokenizer, Errors) {
  EXPECT_EQ(test::error_of([] { qwen().encode("ok\xC3("); }), "invalid UTF-8 at byte offset 2");
  EXPECT_EQ(test::error_of([] { qwen().encode("\xED\xA0\x80"); }), "invalid UTF-8 at byte offset 0");  // surrogate
  EXPECT_NE(test::error_of([] { qwen().decode(Ids{151676}); }).find("id 151676 is not in the vocabulary"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { Tokenizer::from_dir("/nonexistent/tok"); }).find("/nonexistent/tok/tokenizer.json"),
            std::string::npos);
}

TEST(Tokenizer, LongPreTokensAndRepeats) {
  const Tokenizer& t = qwen();
  // Long pre-tokens take the priority-queue merge loop; they must agree with the short loop.
  const std::string run(1000, '=');
  const Ids ids = t.encode(run);
  EXPECT_EQ(t.decode(ids), run);
  Ids again = t.encode(run);
  EXPECT_EQ(ids, again);
  const std::string spaces(300, ' ');
  EXPECT_EQ(t.decode(t.encode("a" + spaces + "b")), "a" + spaces + "b");
}

TEST(Tokenizer, ThreadSafe) {
  const std::string text = "The quick brown fox 跳过了 lazy dogs <|im_end|> 12345 ";
  const Ids expected = qwen().encode(text);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      int good = 0;
      for (int k = 0; k < 200; ++k) good += qwen().encode(text + std::to_string(k % 7)).size() > expected.size() - 1;
      ok[i] = good;
    });
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 200);
}

// Ids from tokenizers 0.22: its regex engine has Unicode 16.0 tables, its NFC Unicode 9.0 data.
TEST(Tokenizer, UnicodeVersionsOfTokenizers) {
  const Tokenizer& t = qwen();
  EXPECT_EQ(t.encode(" \U0001D2C0\U0001D2C1x"),
            (Ids{220, 56252, 233, 222, 56252, 233, 223, 87}));                    // Kaktovik digits: \p{N}
  EXPECT_EQ(t.encode("a\U00031350b"), (Ids{64, 172, 109, 235, 238, 65}));         // CJK extension H: \p{L}
  EXPECT_EQ(t.encode(" \u180e\u180e!"), (Ids{86089, 254, 236, 123970, 236, 0}));  // U+180E is not \s
  EXPECT_EQ(t.encode("e\u0d3b\u0301"), (Ids{68, 33739, 119, 53839}));       // U+0D3B (Unicode 10) blocks e + U+0301
  EXPECT_EQ(t.encode("x\u1df6\u0323"), (Ids{87, 157, 115, 114, 136, 96}));  // and is not reordered
  EXPECT_EQ(t.pre_tokenize("Hi <|im_end|>e\u0301 12"),
            (std::vector<std::string>{"Hi", " ", "<|im_end|>", "\u00e9", " ", "1", "2"}));
}

TEST(TokenizerOnigCompat, RewritesClassesForPcre2) {
  EXPECT_EQ(onig_pattern_for_pcre2("abc(?i:'s)"), "abc(?i:'s)");
  const std::string p = onig_pattern_for_pcre2(R"(\p{N}|[^\s\p{L}]|\s+(?!\S)|\h|\pN)");
  EXPECT_EQ(p.rfind(R"([\p{N}\x{10D40}-\x{10D49})", 0), 0u) << p;
  EXPECT_NE(p.find(R"(|[^\t-\r\x{20}\x{85})"), std::string::npos) << p;  // \s inside a negated class
  EXPECT_NE(p.find(R"(\x{3000}\p{L}\x{1C89}-\x{1C8A})"), std::string::npos) << p;
  EXPECT_NE(p.find(R"((?![^\t-\r)"), std::string::npos) << p;                           // \S outside a class
  EXPECT_NE(p.find("|[0-9A-Fa-f]|"), std::string::npos) << p;                           // Oniguruma's \h is a hex digit
  EXPECT_EQ(onig_pattern_for_pcre2(R"(\\p{L}\Q\s\E\p{Sc})"), R"(\\p{L}\Q\s\E\p{Sc})");  // escaped, quoted, unknown
  EXPECT_EQ(onig_pattern_for_pcre2(R"([\S])"), R"([\S\x{180E}])");
  EXPECT_EQ(onig_pattern_for_pcre2(R"([^\P{Lt}])"), R"([^\P{Lt}])");  // a negated set inside a class stays
  EXPECT_EQ(onig_pattern_for_pcre2(R"(\P{Lt})"), R"([^\p{Lt}])");
}

TEST(TokenizerByteLevel, AlphabetRoundTrip) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string symbols = bytes_to_symbols(all);
  EXPECT_EQ(symbols_to_bytes(symbols), all);
  EXPECT_EQ(bytes_to_symbols(" \n"), "ĠĊ");
  EXPECT_EQ(byte_to_code_point('A'), static_cast<uint32_t>('A'));
  EXPECT_EQ(byte_to_code_point(0), 0x100u);
  EXPECT_EQ(symbols_to_bytes("<|im_start|>"), "<|im_start|>");
  EXPECT_EQ(symbols_to_bytes("a b"), "a b");  // a space is not in the alphabet: kept as it is
}

TEST(TokenizerByteLevel, LossyUtf8) {
  EXPECT_EQ(utf8_lossy("abc"), "abc");
  EXPECT_EQ(utf8_lossy("a\xE4\xB8"), "a\xEF\xBF\xBD");            // truncated: one replacement
  EXPECT_EQ(utf8_lossy("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // two invalid bytes
  EXPECT_EQ(utf8_lossy("\xE4\xB8\xADx"), "\xE4\xB8\xADx");
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate bytes
}

// A tiny byte-level tokenizer.json: the 256 byte symbols plus merges a+b, ab+ab.
std::string tiny_tokenizer(const std::string& normalizer, const std::string& pre_tokenizer, const std::string& added) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) {
    std::string symbol;
    append_utf8(symbol, byte_to_code_point(static_cast<uint8_t>(b)));
    vocab[symbol] = b;
  }
  vocab["ab"] = 256;
  vocab["abab"] = 257;
  nlohmann::json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", nlohmann::json::parse(added)},
      {"normalizer", nlohmann::json::parse(normalizer)},
      {"pre_tokenizer", nlohmann::json::parse(pre_tokenizer)},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::parse(R"([["a", "b"], ["ab", "ab"]])")}}}};
  return j.dump();
}

struct Flags {
  bool special = false, single_word = false, lstrip = false, rstrip = false, normalized = false;
};

std::string added_token(int id, const std::string& content, Flags f) {
  return nlohmann::json{
      {"id", id},           {"content", content}, {"special", f.special},      {"single_word", f.single_word},
      {"lstrip", f.lstrip}, {"rstrip", f.rstrip}, {"normalized", f.normalized}}
      .dump();
}

constexpr const char* kByteLevelOnly = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": false})";

TEST(Tokenizer, MergeLoopsAgree) {
  test::TempDir dir;
  test::write_text(dir.file("tokenizer.json"), tiny_tokenizer("null", kByteLevelOnly, "[]"));
  const Tokenizer t = Tokenizer::from_dir(dir.path().string());
  EXPECT_EQ(t.encode("ababa"), (Ids{257, 'a'}));
  EXPECT_EQ(t.encode("aab"), (Ids{'a', 256}));
  std::string long_word;
  for (int i = 0; i < 50; ++i) long_word += "ab";
  EXPECT_EQ(t.encode(long_word), Ids(25, 257));  // 100 bytes: the queue loop
  EXPECT_EQ(t.encode(long_word + "a"), [] {
    Ids v(25, 257);
    v.push_back('a');
    return v;
  }());
}

// Expected ids checked against tokenizers 0.22 on the same file.
TEST(Tokenizer, AddedTokenFlags) {
  test::TempDir dir;
  const std::string added = "[" + added_token(258, "<m>", {.special = true, .lstrip = true, .rstrip = true}) + "," +
                            added_token(259, "ww", {.single_word = true}) + "," +
                            added_token(260, "\u00e9!", {.normalized = true}) + "]";
  test::write_text(dir.file("tokenizer.json"), tiny_tokenizer(R"({"type": "NFC"})", kByteLevelOnly, added));
  const Tokenizer t = Tokenizer::from_dir(dir.path().string());
  EXPECT_EQ(t.encode("a <m>  b"), (Ids{'a', 258, 'b'}));  // lstrip and rstrip take the spaces
  EXPECT_EQ(t.encode("x\t<m>\t<m>\u2000"), (Ids{'x', 258, 258}));
  EXPECT_EQ(t.encode("ww"), Ids{259});
  EXPECT_EQ(t.encode(" ww ww "), (Ids{' ', 259, ' ', 259, ' '}));
  EXPECT_EQ(t.encode("a ww."), (Ids{'a', ' ', 259, '.'}));
  EXPECT_EQ(t.encode("aww"), (Ids{'a', 'w', 'w'}));  // not a single word
  EXPECT_EQ(t.encode("ww_"), (Ids{'w', 'w', '_'}));
  EXPECT_EQ(t.encode("ww\u00e9"), (Ids{'w', 'w', 0xC3, 0xA9}));
  EXPECT_EQ(t.encode("e\u0301!"), Ids{260});  // matched after NFC
  EXPECT_EQ(t.decode(Ids{'a', 258, 'b'}, true), "ab");
  EXPECT_EQ(t.decode(Ids{'a', 258, 'b'}), "a<m>b");
}

TEST(Tokenizer, AddedTokenIdsMustBeTheOnesTokenizersGives) {
  test::TempDir dir;
  const std::string added = "[" + added_token(300, "<m>", {.special = true}) + "]";
  test::write_text(dir.file("tokenizer.json"), tiny_tokenizer("null", kByteLevelOnly, added));
  EXPECT_NE(
      test::error_of([&] { Tokenizer::from_dir(dir.path().string()); }).find("has id 300, but tokenizers gives it 258"),
      std::string::npos);
}

TEST(Tokenizer, RejectsWhatItDoesNotImplement) {
  test::TempDir dir;
  auto error_for = [&](const std::string& json) {
    test::write_text(dir.file("tokenizer.json"), json);
    return test::error_of([&] { Tokenizer::from_dir(dir.path().string()); });
  };
  EXPECT_NE(error_for(tiny_tokenizer(R"({"type": "Lowercase"})", kByteLevelOnly, "[]"))
                .find("normalizer 'Lowercase' is not supported"),
            std::string::npos);
  EXPECT_NE(error_for(tiny_tokenizer("null", R"({"type": "Whitespace"})", "[]"))
                .find("pre-tokenizer 'Whitespace' is not supported"),
            std::string::npos);
  EXPECT_NE(
      error_for(
          tiny_tokenizer(
              "null", R"({"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Removed", "invert": false})", "[]"))
          .find("Split behavior 'Removed' is not supported"),
      std::string::npos);
  EXPECT_NE(
      error_for(tiny_tokenizer(
                    "null", R"({"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated", "invert": false})",
                    "[]"))
          .find("does not compile"),
      std::string::npos);
  EXPECT_NE(error_for("[1, 2]").find("expected a JSON object"), std::string::npos);
}

}  // namespace
}  // namespace omnitune
