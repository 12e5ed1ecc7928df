#include "omnitune/core/config_reader.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "omnitune/core/closest_match.h"

namespace omnitune {

std::string Range::text() const {
  const bool low = std::isfinite(min), high = std::isfinite(max);
  if (low && high) return cat("in ", min_exclusive ? "(" : "[", min, ", ", max, "]");
  if (low) return cat(min_exclusive ? "> " : ">= ", min);
  if (high) return cat("<= ", max);
  return "a number";
}

std::string describe_json(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "boolean " + text;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "integer " + text;
    case nlohmann::json::value_t::number_float: return "number " + text;
    case nlohmann::json::value_t::string: return "string " + text;
    case nlohmann::json::value_t::array: return "array " + text;
    case nlohmann::json::value_t::object: return "object " + text;
    default: return text;
  }
}

namespace {
[[noreturn]] void wrong_type(const nlohmann::json& value, const std::string& where, const char* expected) {
  throw Error(where + ": expected " + expected + ", got " + describe_json(value));
}
}  // namespace

template <>
bool json_as<bool>(const nlohmann::json& value, const std::string& where) {
  if (!value.is_boolean()) wrong_type(value, where, "a boolean (true/false)");
  return value.get<bool>();
}

template <>
int64_t json_as<int64_t>(const nlohmann::json& value, const std::string& where) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw Error(where + ": integer " + value.dump() + " is too large");
    return static_cast<int64_t>(value.get<uint64_t>());
  }
  wrong_type(value, where, "an integer");
}

template <>
int json_as<int>(const nlohmann::json& value, const std::string& where) {
  int64_t wide = json_as<int64_t>(value, where);
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max())
    throw Error(where + ": integer " + value.dump() + " is out of range");
  return static_cast<int>(wide);
}

template <>
double json_as<double>(const nlohmann::json& value, const std::string& where) {
  if (!value.is_number()) wrong_type(value, where, "a number");
  const double v = value.get<double>();
  if (!std::isfinite(v)) wrong_type(value, where, "a finite number");
  return v;
}

template <>
std::string json_as<std::string>(const nlohmann::json& value, const std::string& where) {
  if (!value.is_string()) wrong_type(value, where, "a string");
  return value.get<std::string>();
}

namespace {
template <class T>
std::vector<T> json_as_list(const nlohmann::json& value, const std::string& where) {
  if (!value.is_array()) wrong_type(value, where, "a list");
  std::vector<T> out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) out.push_back(json_as<T>(value[i], where + "[" + std::to_string(i) + "]"));
  return out;
}
}  // namespace

template <>
std::vector<std::string> json_as<std::vector<std::string>>(const nlohmann::json& v, const std::string& w) {
  return json_as_list<std::string>(v, w);
}
template <>
std::vector<int64_t> json_as<std::vector<int64_t>>(const nlohmann::json& v, const std::string& w) {
  return json_as_list<int64_t>(v, w);
}
template <>
std::vector<int> json_as<std::vector<int>>(const nlohmann::json& v, const std::string& w) {
  return json_as_list<int>(v, w);
}
template <>
std::vector<double> json_as<std::vector<double>>(const nlohmann::json& v, const std::string& w) {
  return json_as_list<double>(v, w);
}

ConfigReader::ConfigReader(const nlohmann::json& node, std::string file, std::string path)
    : node_(&node), file_(std::move(file)), path_(std::move(path)) {
  if (!node.is_object()) throw Error(file_ + ": " + path_ + ": expected an object, got " + describe_json(node));
}

const nlohmann::json* ConfigReader::value_of(const std::string& key) {
  accept(key);
  auto it = node_->find(key);
  return it == node_->end() ? nullptr : &*it;
}

bool ConfigReader::has(const std::string& key) {
  const nlohmann::json* value = value_of(key);
  return value && !value->is_null();
}

bool ConfigReader::present(const std::string& key) { return value_of(key) != nullptr; }

void ConfigReader::accept(const std::string& key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
}

ConfigReader ConfigReader::object(const std::string& key) { return ConfigReader(raw(key), file_, path_ + "." + key); }

const nlohmann::json& ConfigReader::raw(const std::string& key) {
  const nlohmann::json* value = value_of(key);
  if (!value || value->is_null()) fail(key, "missing required key '" + key + "'");
  return *value;
}

std::vector<std::string> ConfigReader::unknown_keys() const {
  std::vector<std::string> unknown;
  for (const auto& item : node_->items())
    if (std::find(known_.begin(), known_.end(), item.key()) == known_.end()) unknown.push_back(item.key());
  return unknown;
}

void ConfigReader::finish() const {
  for (const auto& key : unknown_keys()) fail(key, "unknown key '" + key + "'" + did_you_mean(key, known_));
}

std::string ConfigReader::where(const std::string& key) const { return file_ + ": " + path_ + "." + key; }

void ConfigReader::fail(const std::string& key, const std::string& message) const {
  throw Error(where(key) + ": " + message);
}

}  // namespace omnitune
