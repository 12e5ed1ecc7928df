// core/closest_match: "did you mean ...?" for unknown keys, flags and names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace omnitune {

// Levenshtein distance between a and b (insert, delete, substitute all cost 1).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, or "" when none is close enough to be a plausible typo
// (distance at most max(2, |word|/3)).
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" — ready to append to an error message.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace omnitune
