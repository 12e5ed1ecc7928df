#include "omnitune/train/module_pattern.h"

#include <cctype>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

ModulePattern::ModulePattern(std::string text, const std::string& where) : text_(std::move(text)) {
  auto fail = [&](const std::string& what) { throw Error(cat(where, ": pattern '", text_, "': ", what)); };
  if (text_.empty()) fail("is empty");
  for (size_t i = 0; i < text_.size(); ++i) {
    const char c = text_[i];
    if (c == '*') {
      if (tokens_.empty() || tokens_.back().kind != Token::kAny) tokens_.push_back({Token::kAny});  // ** == *
    } else if (c == '?') {
      tokens_.push_back({Token::kOne});
    } else if (c == '{') {
      const size_t close = text_.find('}', i);
      if (close == std::string::npos) fail("unclosed '{'");
      const std::string inner = text_.substr(i + 1, close - i - 1);
      Token t{Token::kInteger};
      if (inner != "*") {
        const size_t dash = inner.find('-');
        const std::string a = dash == std::string::npos ? "" : inner.substr(0, dash);
        const std::string b = dash == std::string::npos ? "" : inner.substr(dash + 1);
        if (!all_digits(a) || !all_digits(b))
          fail(cat("'{", inner, "}' is neither {*} nor {a-b} with numbers a and b"));
        t.lo = std::stoll(a), t.hi = std::stoll(b);
        if (t.lo > t.hi) fail(cat("'{", inner, "}' is an empty range"));
      }
      tokens_.push_back(t);
      i = close;
    } else {
      tokens_.push_back({Token::kChar, c});
    }
  }
}

bool ModulePattern::matches(const std::string& name) const {
  // ok[t][i]: tokens t.. match name[i..]. Filled from the end.
  const size_t n = name.size(), nt = tokens_.size();
  std::vector<std::vector<char>> ok(nt + 1, std::vector<char>(n + 1, 0));
  ok[nt][n] = 1;
  for (size_t t = nt; t-- > 0;) {
    const Token& k = tokens_[t];
    for (size_t i = n + 1; i-- > 0;) {
      bool m = false;
      switch (k.kind) {
        case Token::kChar: m = i < n && name[i] == k.c && ok[t + 1][i + 1]; break;
        case Token::kOne: m = i < n && ok[t + 1][i + 1]; break;
        case Token::kAny: m = ok[t + 1][i] || (i < n && ok[t][i + 1]); break;
        case Token::kInteger: {
          int64_t value = 0;
          for (size_t j = i; j < n && j - i < 18 && std::isdigit(static_cast<unsigned char>(name[j])); ++j) {
            value = value * 10 + (name[j] - '0');
            if (value >= k.lo && value <= k.hi && ok[t + 1][j + 1]) {
              m = true;
              break;
            }
          }
          break;
        }
      }
      ok[t][i] = m;
    }
  }
  return ok[0][0];
}

}  // namespace omnitune
