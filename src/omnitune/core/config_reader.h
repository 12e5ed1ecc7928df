// core/config_reader: typed reading of one JSON object of a config file (JSON, or YAML converted to
// JSON). Every key read is remembered; finish() then rejects any other key, naming its path and the
// closest valid key, so a typo'd option is never silently ignored.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omnitune/core/enum_names.h"
#include "omnitune/core/error.h"

namespace omnitune {

// An allowed interval for a number read from a config: [min, max], or (min, max] with min_exclusive.
struct Range {
  double min = -std::numeric_limits<double>::infinity(), max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;
  bool contains(double v) const { return (min_exclusive ? v > min : v >= min) && v <= max; }
  std::string text() const;  // "> 0", ">= 1", "in [0, 1]", ...
};
inline Range positive() { return {0, std::numeric_limits<double>::infinity(), true}; }
inline Range at_least(double v) { return {v}; }
inline Range between(double lo, double hi) { return {lo, hi}; }

class ConfigReader {
 public:
  // `node` must outlive the reader. `file` and `path` ("$", "$.a.b") only label error messages.
  ConfigReader(const nlohmann::json& node, std::string file, std::string path = "$");

  bool has(const std::string& key);      // present and not null; also marks the key as known
  bool present(const std::string& key);  // present, null or not; also marks the key as known

  template <class T>
  T required(const std::string& key);
  template <class T>
  T get(const std::string& key, T fallback);  // fallback when absent or null
  template <class T>
  std::optional<T> optional(const std::string& key);
  // Numbers (int64_t or double) that must lie in `range`: Error "<where>: must be > 0, got 0" otherwise.
  template <class T>
  T required(const std::string& key, const Range& range);
  template <class T>
  T get(const std::string& key, T fallback, const Range& range);
  template <class T>
  std::optional<T> optional(const std::string& key, const Range& range);
  template <class T>
  T check(const std::string& key, T value, const Range& range) const;  // value (read by the caller) in range
  // A name from an enum's table (core/enum_names.h); `fallback` when absent or null.
  template <class E>
  E get_enum(const std::string& key, const EnumNames<E>& table, E fallback, const std::string& what);

  ConfigReader object(const std::string& key);        // required nested object
  const nlohmann::json& raw(const std::string& key);  // required value of any type, read by the caller

  void accept(const std::string& key);  // a valid key whose value the caller does not read
  // Valid keys seen so far (for the caller's own "did you mean").
  const std::vector<std::string>& known_keys() const { return known_; }
  // Keys present in the object that were not read or accepted.
  std::vector<std::string> unknown_keys() const;
  // Throws on the first unknown key: "<file>: $.path.key: unknown key 'key' (did you mean 'x'?)".
  void finish() const;

  std::string where(const std::string& key) const;  // "<file>: $.path.key"
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json* value_of(const std::string& key);
  const nlohmann::json* node_;
  std::string file_;
  std::string path_;
  std::vector<std::string> known_;
};

// Converts one JSON value to T or throws an Error naming `where` and what was found (a double must be
// finite). T: bool, int, int64_t, double, std::string, std::vector<of these>.
template <class T>
T json_as(const nlohmann::json& value, const std::string& where);

// "string \"abc\"", "integer 3", "object", ... for error messages.
std::string describe_json(const nlohmann::json& value);

template <class T>
T ConfigReader::required(const std::string& key) {
  const nlohmann::json* value = value_of(key);
  if (!value || value->is_null()) fail(key, "missing required key '" + key + "'");
  return json_as<T>(*value, where(key));
}

template <class T>
T ConfigReader::get(const std::string& key, T fallback) {
  const nlohmann::json* value = value_of(key);
  if (!value || value->is_null()) return fallback;
  return json_as<T>(*value, where(key));
}

template <class T>
std::optional<T> ConfigReader::optional(const std::string& key) {
  const nlohmann::json* value = value_of(key);
  if (!value || value->is_null()) return std::nullopt;
  return json_as<T>(*value, where(key));
}

template <class T>
T ConfigReader::check(const std::string& key, T value, const Range& range) const {
  if (!range.contains(static_cast<double>(value))) fail(key, "must be " + range.text() + ", got " + cat(value));
  return value;
}

template <class T>
T ConfigReader::required(const std::string& key, const Range& range) {
  return check(key, required<T>(key), range);
}

template <class T>
T ConfigReader::get(const std::string& key, T fallback, const Range& range) {
  return has(key) ? check(key, required<T>(key), range) : fallback;
}

template <class E>
E ConfigReader::get_enum(const std::string& key, const EnumNames<E>& table, E fallback, const std::string& what) {
  return has(key) ? parse_enum(table, required<std::string>(key), where(key), what) : fallback;
}

template <class T>
std::optional<T> ConfigReader::optional(const std::string& key, const Range& range) {
  std::optional<T> value = optional<T>(key);
  if (value) check(key, *value, range);
  return value;
}

}  // namespace omnitune
