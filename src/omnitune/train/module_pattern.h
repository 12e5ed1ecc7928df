// train/module_pattern: the seed's module-name patterns for freezing, compiled once where model.json is
// read. Full-string match: `*` = any characters (dots too), `?` = one character, `{*}` = one integer,
// `{a-b}` = an integer in [a, b]. Matching is a dynamic programme over (pattern token, name position), so
// its time is bounded by tokens x name length x 19 whatever the pattern (no regex backtracking).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace omnitune {

class ModulePattern {
 public:
  // Error "<where>: pattern '<text>': ..." for an unclosed '{' or a brace that is neither {*} nor {a-b}
  // with a <= b (at most 18 digits each).
  ModulePattern(std::string text, const std::string& where);
  bool matches(const std::string& name) const;
  const std::string& text() const { return text_; }

 private:
  struct Token {
    enum Kind { kChar, kOne, kAny, kInteger } kind;
    char c = 0;
    int64_t lo = 0, hi = INT64_MAX;  // kInteger
  };
  std::string text_;
  std::vector<Token> tokens_;
};

}  // namespace omnitune
