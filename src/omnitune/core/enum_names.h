// core/enum_names: one table of (value, name) pairs per enum, from which both directions come — reading a
// config value or a flag (an unknown name is an Error with the closest valid one and the valid list) and
// writing a value's name. Several names may share a value (aliases); the first is the value's name.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"

namespace omnitune {

template <class E>
using EnumNames = std::vector<std::pair<E, const char*>>;

template <class E>
const char* enum_name(const EnumNames<E>& table, E value);

// Error "<where>: unknown <what> 'x' (did you mean 'y'?); valid: a, b, c".
template <class E>
E parse_enum(const EnumNames<E>& table, const std::string& text, const std::string& where, const std::string& what) {
  std::vector<std::string> names;
  std::string valid;  // each value's own name (aliases are accepted, not listed)
  for (const auto& [value, name] : table) {
    if (text == name) return value;
    names.emplace_back(name);
    if (enum_name(table, value) == name) valid += (valid.empty() ? "" : ", ") + std::string(name);
  }
  throw Error(where + ": unknown " + what + " '" + text + "'" + did_you_mean(text, names) + "; valid: " + valid);
}

template <class E>
const char* enum_name(const EnumNames<E>& table, E value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "?";
}

}  // namespace omnitune
