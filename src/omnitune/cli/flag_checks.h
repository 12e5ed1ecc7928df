// cli/flag_checks: range checks for numeric flags, attached where each flag is declared. CLI11's own Range
// lets NaN through and its unsigned conversion wraps "-1", so every number goes through these: the value
// must parse completely, be finite and lie in the range; the error names the flag ("--lr: ...").
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include <CLI/CLI.hpp>

namespace omnitune {

// A finite number in [min, max] (or (min, max] with min_exclusive).
inline CLI::Validator number_in(double min, double max = std::numeric_limits<double>::infinity(),
                                bool min_exclusive = false) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          return "'" + text + "' is not a number";
        }
        if (used != text.size()) return "'" + text + "' is not a number";
        if (!std::isfinite(v)) return "'" + text + "' is not a finite number";
        const bool low_ok = min_exclusive ? v > min : v >= min;
        if (!low_ok || v > max) {
          std::string range = std::isfinite(max) ? (min_exclusive ? "in (" : "in [") + CLI::detail::to_string(min) +
                                                       ", " + CLI::detail::to_string(max) + "]"
                                                 : (min_exclusive ? "> " : ">= ") + CLI::detail::to_string(min);
          return "must be " + range + ", got " + text;
        }
        return {};
      },
      "NUMBER");
}

// A whole number in [min, max] that fits int64 (no wrap-around, no "1e3").
inline CLI::Validator integer_in(int64_t min, int64_t max = std::numeric_limits<int64_t>::max()) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(text, &used, 10);
        } catch (const std::out_of_range&) {
          return "'" + text + "' does not fit a 64-bit integer";
        } catch (const std::exception&) {
          return "'" + text + "' is not an integer";
        }
        if (used != text.size()) return "'" + text + "' is not an integer";
        if (v < min || v > max)
          return "must be " +
                 (max == std::numeric_limits<int64_t>::max()
                      ? ">= " + std::to_string(min)
                      : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]") +
                 ", got " + text;
        return {};
      },
      "INT");
}

}  // namespace omnitune
