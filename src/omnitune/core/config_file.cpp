#include "omnitune/core/config_file.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <set>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/core/utf8.h"

namespace omnitune {

namespace {

// ---- YAML 1.1 plain scalars, resolved as PyYAML's SafeLoader resolves them (bool, null, int, float, else
// string), with its exact patterns written out as small scanners (a regex engine recurses per character and
// would overflow the stack on a long scalar).

bool one_of(const std::string& s, std::initializer_list<const char*> words) {
  for (const char* w : words)
    if (s == w) return true;
  return false;
}

// Advances `i` over characters of `set` (and '_' when `underscores`); true when at least one was taken.
bool take(const std::string& s, size_t& i, const char* set, bool underscores = true) {
  const size_t start = i;
  while (i < s.size() && (std::strchr(set, s[i]) || (underscores && s[i] == '_'))) ++i;
  return i > start;
}
constexpr const char* kDigits = "0123456789";

bool take_sign(const std::string& s, size_t& i) {
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) return ++i, true;
  return false;
}

// (:[0-5]?[0-9])+ : the base-60 groups.
bool take_sexagesimal(const std::string& s, size_t& i) {
  size_t groups = 0;
  while (i < s.size() && s[i] == ':') {
    size_t j = i + 1;
    if (j + 1 < s.size() && s[j] >= '0' && s[j] <= '5' && std::isdigit(static_cast<unsigned char>(s[j + 1])))
      j += 2;
    else if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])))
      j += 1;
    else
      return false;
    i = j, ++groups;
  }
  return groups > 0;
}

// [eE][-+][0-9]+ (optional as a whole)
bool take_exponent(const std::string& s, size_t& i) {
  if (i == s.size()) return true;
  if ((s[i] != 'e' && s[i] != 'E') || i + 1 >= s.size() || (s[i + 1] != '+' && s[i + 1] != '-')) return false;
  i += 2;
  return take(s, i, kDigits, false);
}

enum class IntForm { kNone, kBinary, kOctal, kDecimal, kHex, kSexagesimal };

IntForm int_form(const std::string& s) {
  size_t i = 0;
  take_sign(s, i);
  const std::string rest = s.substr(i);
  size_t j = 0;
  if (rest.rfind("0b", 0) == 0 && (j = 2, take(rest, j, "01")) && j == rest.size()) return IntForm::kBinary;
  if (rest.rfind("0x", 0) == 0 && (j = 2, take(rest, j, "0123456789abcdefABCDEF")) && j == rest.size())
    return IntForm::kHex;
  if (rest == "0") return IntForm::kDecimal;
  if (rest.size() > 1 && rest[0] == '0' && (j = 1, take(rest, j, "01234567")) && j == rest.size())
    return IntForm::kOctal;
  if (!rest.empty() && rest[0] >= '1' && rest[0] <= '9') {
    j = 1;
    take(rest, j, kDigits);
    if (j == rest.size()) return IntForm::kDecimal;
    if (take_sexagesimal(rest, j) && j == rest.size()) return IntForm::kSexagesimal;
  }
  return IntForm::kNone;
}

bool is_float(const std::string& s) {
  size_t i = 0;
  const bool signed_ = take_sign(s, i);
  if (s.compare(i, std::string::npos, ".inf") == 0 || s.compare(i, std::string::npos, ".Inf") == 0 ||
      s.compare(i, std::string::npos, ".INF") == 0)
    return true;
  if (!signed_ && one_of(s, {".nan", ".NaN", ".NAN"})) return true;
  size_t j = i;
  if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) {  // [0-9][0-9_]* then . or base 60
    take(s, j, kDigits);
    size_t k = j;
    if (take_sexagesimal(s, k) && k < s.size() && s[k] == '.') {
      ++k;
      take(s, k, kDigits);
      return k == s.size();
    }
    if (j >= s.size() || s[j] != '.') return false;
    ++j;
    take(s, j, kDigits);
    return take_exponent(s, j) && j == s.size();
  }
  if (signed_ || j >= s.size() || s[j] != '.') return false;  // \.[0-9][0-9_]*: no sign
  ++j;
  if (j >= s.size() || !std::isdigit(static_cast<unsigned char>(s[j]))) return false;
  take(s, j, kDigits);
  return take_exponent(s, j) && j == s.size();
}

// The sum of base-60 groups "a:b:c" (digits only inside), or the plain number.
template <class Number, class Parse>
Number base60(const std::string& digits, Parse parse) {
  Number value = 0;
  size_t from = 0;
  for (size_t colon; (colon = digits.find(':', from)) != std::string::npos; from = colon + 1)
    value = value * 60 + parse(digits.substr(from, colon - from));
  return value * 60 + parse(digits.substr(from));
}

nlohmann::json resolve_plain_scalar(const std::string& s) {
  if (one_of(s, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (one_of(s, {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) return true;
  if (one_of(s, {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) return false;
  std::string v = s;
  v.erase(std::remove(v.begin(), v.end(), '_'), v.end());
  const bool negative = !v.empty() && v[0] == '-';
  const std::string body = !v.empty() && (v[0] == '-' || v[0] == '+') ? v.substr(1) : v;
  try {
    switch (int_form(s)) {
      case IntForm::kNone: break;
      case IntForm::kBinary: return (negative ? -1 : 1) * std::stoll(body.substr(2), nullptr, 2);
      case IntForm::kOctal: return (negative ? -1 : 1) * std::stoll(body, nullptr, 8);
      case IntForm::kDecimal: return (negative ? -1 : 1) * std::stoll(body);
      case IntForm::kHex: return (negative ? -1 : 1) * std::stoll(body.substr(2), nullptr, 16);
      case IntForm::kSexagesimal:
        return (negative ? -1 : 1) * base60<int64_t>(body, [](const std::string& d) { return std::stoll(d); });
    }
    if (is_float(s)) {
      if (body == ".inf" || body == ".Inf" || body == ".INF") return negative ? -INFINITY : INFINITY;
      if (body == ".nan" || body == ".NaN" || body == ".NAN") return NAN;
      if (body.find(':') != std::string::npos)
        return (negative ? -1.0 : 1.0) * base60<double>(body, [](const std::string& d) { return std::stod(d); });
      return std::stod(v);
    }
  } catch (const std::out_of_range&) {
    return s;  // too large for a number: keep the text, the typed reader reports it
  } catch (const std::invalid_argument&) {
    return s;  // "0b_": digits only of '_' (PyYAML itself fails on it)
  }
  return s;
}

// Nodes a YAML document may expand to: aliases make a few bytes stand for exponentially many nodes
// (an "alias bomb"), so the expansion is counted and stopped long before it can exhaust memory.
constexpr int64_t kMaxYamlNodes = 100000;
constexpr int kMaxYamlDepth = 200;  // nesting levels; an alias inside its own anchor would recurse forever

nlohmann::json to_json(const YAML::Node& node, const std::string& label, int64_t& budget, int depth = 0) {
  if (--budget < 0)
    throw Error(cat(label, ": the YAML expands to more than ", kMaxYamlNodes,
                    " values (aliases repeating anchors?); a configuration file is far smaller"));
  if (depth > kMaxYamlDepth)
    throw Error(cat(label, ": the YAML nests deeper than ", kMaxYamlDepth,
                    " levels (an alias inside its own anchor?); a configuration file is far flatter"));
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar:
      // A quoted scalar has the non-specific tag "!"; only plain scalars are resolved.
      return node.Tag() == "!" ? nlohmann::json(node.Scalar()) : resolve_plain_scalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(to_json(item, label, budget, depth + 1));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& item : node) {
        if (!item.first.IsScalar())
          throw Error(cat(label, ":", item.first.Mark().line + 1, ": mapping keys must be plain scalars"));
        const std::string key = item.first.Scalar();
        if (out.contains(key)) throw Error(cat(label, ":", item.first.Mark().line + 1, ": duplicate key '", key, "'"));
        out[key] = to_json(item.second, label, budget, depth + 1);
      }
      return out;
    }
  }
  return nullptr;
}

}  // namespace

nlohmann::json load_json_file(const std::string& path) { return parse_json(read_text_file(path, "config file"), path); }

nlohmann::json parse_json(const std::string& text, const std::string& label) {
  // One set of keys per open object: a key given twice is an error (a JSON reader would keep one silently).
  struct Scope {
    std::set<std::string> keys;
    std::string path;
  };
  std::vector<Scope> open;
  std::string last_key;
  auto reject_duplicates = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) {
      open.push_back({{}, open.empty() ? "$" : open.back().path + "." + last_key});
    } else if (event == E::object_end) {
      open.pop_back();
    } else if (event == E::key && !open.empty()) {
      last_key = parsed.get<std::string>();
      if (!open.back().keys.insert(last_key).second)
        throw Error(cat(label, ": ", open.back().path, ": key '", last_key, "' appears twice"));
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, reject_duplicates);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
    throw Error(label + ": invalid JSON: " + e.what());
  }
}

nlohmann::json parse_yaml(const std::string& text, const std::string& label) {
  if (size_t bad = find_invalid_utf8(text); bad != std::string::npos)  // as PyYAML, which reads UTF-8 only
    throw Error(cat(label, ":", std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n') + 1,
                    ": invalid UTF-8 at byte ", bad));
  try {
    int64_t budget = kMaxYamlNodes;
    return to_json(YAML::Load(text), label, budget);
  } catch (const YAML::Exception& e) {
    throw Error(cat(label, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg));
  }
}

nlohmann::json load_yaml_file(const std::string& path) { return parse_yaml(read_text_file(path, "config file"), path); }

}  // namespace omnitune
