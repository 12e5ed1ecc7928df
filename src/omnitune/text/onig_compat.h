// text/onig_compat: rewrites a tokenizer.json regex (written for Oniguruma with Unicode 16.0, which
// Hugging Face `tokenizers` uses) so that PCRE2 10.42 (Unicode 14.0) matches the same characters.
#pragma once

#include <string>
#include <string_view>

namespace omnitune {

// Rewrites \p{..}/\P{..} general categories (L, Lu, Ll, Lt, Lm, Lo, M, Mn, Mc, Me, N, Nd, Nl, No),
// \d, \D, \s, \S and \h, \H (Oniguruma: hex digits) into classes with Oniguruma's character sets:
// the letters, marks and numbers added in Unicode 15.0-16.0 join their categories, and \s loses
// U+180E, which PCRE2 counts as a space. Negated forms inside a character class cannot take the
// additions and stay as they are; \w, \b and everything else pass through unchanged.
std::string onig_pattern_for_pcre2(std::string_view pattern);

}  // namespace omnitune
