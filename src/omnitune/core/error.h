// core/error: the one exception type OmniTune throws for anything a user can fix.
// Its message always names where the problem is: file, JSON path, dataset row or tensor.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace omnitune {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// cat("a", 1, 'b') == "a1b": string building that works in every translation unit, torch or not.
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

}  // namespace omnitune
