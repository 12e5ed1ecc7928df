#include "omnitune/text/onig_compat.h"

#include <cstring>

namespace omnitune {

namespace {

// Characters of each general category that Oniguruma (Unicode 16.0) has and PCRE2 10.42 (Unicode
// 14.0) does not: those assigned in Unicode 15.0, 15.1 and 16.0. Ranges in PCRE2 class syntax.
struct CategoryAdditions {
  const char* name;
  const char* ranges;
};
constexpr CategoryAdditions kAdditions[] = {
    {"L",
     "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}\\x{10D4A}-\\x{10D65}"
     "\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}\\x{11380}-\\x{11389}\\x{1138B}"
     "\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}"
     "\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}"
     "\\x{16100}-\\x{1611D}\\x{16D40}-\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}"
     "\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}"
     "\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}"},
    {"Lu", "\\x{1C89}\\x{A7CB}-\\x{A7CC}\\x{A7DA}\\x{A7DC}\\x{10D50}-\\x{10D65}"},
    {"Ll", "\\x{1C8A}\\x{A7CD}\\x{A7DB}\\x{10D70}-\\x{10D85}\\x{1DF25}-\\x{1DF2A}"},
    {"Lt", ""},
    {"Lm", "\\x{10D4E}\\x{10D6F}\\x{16D40}-\\x{16D42}\\x{16D6B}-\\x{16D6C}\\x{1E030}-\\x{1E06D}\\x{1E4EB}"},
    {"Lo",
     "\\x{105C0}-\\x{105F3}\\x{10D4A}-\\x{10D4D}\\x{10D4F}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}"
     "\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}\\x{113D3}"
     "\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}"
     "\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D43}-\\x{16D6A}\\x{18CFF}"
     "\\x{1B132}\\x{1B155}\\x{1E4D0}-\\x{1E4EA}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}"
     "\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}"},
    {"M",
     "\\x{897}\\x{CF3}\\x{ECE}\\x{10D69}-\\x{10D6D}\\x{10EFC}-\\x{10EFF}\\x{11241}\\x{113B8}-\\x{113C0}"
     "\\x{113C2}\\x{113C5}\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113D0}\\x{113D2}\\x{113E1}-\\x{113E2}"
     "\\x{11F00}-\\x{11F01}\\x{11F03}\\x{11F34}-\\x{11F3A}\\x{11F3E}-\\x{11F42}\\x{11F5A}\\x{13440}"
     "\\x{13447}-\\x{13455}\\x{1611E}-\\x{1612F}\\x{1E08F}\\x{1E4EC}-\\x{1E4EF}\\x{1E5EE}-\\x{1E5EF}"},
    {"Mn",
     "\\x{897}\\x{ECE}\\x{10D69}-\\x{10D6D}\\x{10EFC}-\\x{10EFF}\\x{11241}\\x{113BB}-\\x{113C0}\\x{113CE}"
     "\\x{113D0}\\x{113D2}\\x{113E1}-\\x{113E2}\\x{11F00}-\\x{11F01}\\x{11F36}-\\x{11F3A}\\x{11F40}"
     "\\x{11F42}\\x{11F5A}\\x{13440}\\x{13447}-\\x{13455}\\x{1611E}-\\x{16129}\\x{1612D}-\\x{1612F}"
     "\\x{1E08F}\\x{1E4EC}-\\x{1E4EF}\\x{1E5EE}-\\x{1E5EF}"},
    {"Mc",
     "\\x{CF3}\\x{113B8}-\\x{113BA}\\x{113C2}\\x{113C5}\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113CD}"
     "\\x{113CF}\\x{1171E}\\x{11F03}\\x{11F34}-\\x{11F35}\\x{11F3E}-\\x{11F3F}\\x{11F41}"
     "\\x{1612A}-\\x{1612C}"},
    {"Me", ""},
    {"N",
     "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}"
     "\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}"
     "\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}"},
    {"Nd",
     "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}"
     "\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1E4F0}-\\x{1E4F9}"
     "\\x{1E5F1}-\\x{1E5FA}"},
    {"Nl", ""},
    {"No", "\\x{1D2C0}-\\x{1D2D3}"},
};

// Unicode White_Space, Oniguruma's \s (PCRE2 adds U+180E MONGOLIAN VOWEL SEPARATOR).
constexpr const char* kSpace =
    "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
constexpr const char* kHexDigit = "0-9A-Fa-f";

const CategoryAdditions* find_category(std::string_view name) {
  for (const auto& c : kAdditions)
    if (name == c.name) return &c;
  return nullptr;
}

class Rewriter {
 public:
  explicit Rewriter(std::string_view pattern) : in_(pattern) {}

  std::string run() {
    while (i_ < in_.size()) {
      const char c = in_[i_];
      if (c == '\\' && i_ + 1 < in_.size()) {
        escape();
      } else if (!in_class_ && c == '[') {
        open_class();
      } else if (in_class_ && c == '[' && in_.substr(i_, 2) == "[:") {
        copy_until(":]");  // a POSIX class inside a class
      } else if (in_class_ && c == ']') {
        in_class_ = false;
        out_ += c, ++i_;
      } else {
        out_ += c, ++i_;
      }
    }
    return out_;
  }

 private:
  void open_class() {
    in_class_ = true;
    out_ += '[', ++i_;
    if (i_ < in_.size() && in_[i_] == '^') out_ += '^', ++i_;
    if (i_ < in_.size() && in_[i_] == ']') out_ += ']', ++i_;  // a leading ']' is literal
  }

  void copy_until(std::string_view end) {
    const size_t stop = in_.find(end, i_ + 1);
    const size_t until = stop == std::string_view::npos ? in_.size() : stop + end.size();
    out_.append(in_.substr(i_, until - i_));
    i_ = until;
  }

  // A set: `members` (class syntax) with `negated`. Inside a class only the positive form can be
  // written; the negative one keeps `original`.
  void emit_set(const std::string& members, bool negated, std::string_view original) {
    if (in_class_)
      out_.append(negated ? std::string(original) : members);
    else
      out_ += (negated ? "[^" : "[") + members + "]";
  }

  void escape() {
    const char e = in_[i_ + 1];
    if (e == 'Q') {  // \Q...\E is literal text
      copy_until("\\E");
      return;
    }
    if (e == 'p' || e == 'P') {
      property(e == 'P');
      return;
    }
    const std::string_view original = in_.substr(i_, 2);
    i_ += 2;
    switch (e) {
      case 'd':
      case 'D': emit_set(std::string("\\p{Nd}") + find_category("Nd")->ranges, e == 'D', original); break;
      case 's': emit_set(kSpace, false, original); break;
      case 'S':
        if (in_class_)
          out_ += "\\S\\x{180E}";  // PCRE2's \S lacks only U+180E
        else
          emit_set(kSpace, true, original);
        break;
      case 'h':
      case 'H': emit_set(kHexDigit, e == 'H', original); break;
      default: out_.append(original);
    }
  }

  // \pL, \p{L}, \p{^L}, \P{L}.
  void property(bool negated) {
    const size_t start = i_;
    std::string_view name;
    if (i_ + 2 < in_.size() && in_[i_ + 2] == '{') {
      const size_t close = in_.find('}', i_ + 3);
      if (close == std::string_view::npos) {
        out_.append(in_.substr(i_)), i_ = in_.size();
        return;
      }
      name = in_.substr(i_ + 3, close - i_ - 3);
      i_ = close + 1;
    } else {
      name = in_.substr(i_ + 2, 1);
      i_ += 3;
    }
    if (!name.empty() && name[0] == '^') negated = !negated, name.remove_prefix(1);
    const std::string_view original = in_.substr(start, i_ - start);
    const CategoryAdditions* category = find_category(name);
    if (!category) {
      out_.append(original);
      return;
    }
    emit_set(std::string("\\p{") + std::string(name) + "}" + category->ranges, negated, original);
  }

  std::string_view in_;
  size_t i_ = 0;
  bool in_class_ = false;
  std::string out_;
};

}  // namespace

std::string onig_pattern_for_pcre2(std::string_view pattern) { return Rewriter(pattern).run(); }

}  // namespace omnitune
