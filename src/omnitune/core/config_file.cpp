#include "omnitune/core/config_file.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open config file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// YAML 1.1 plain-scalar resolution as PyYAML's SafeLoader does it (bool, null, int, float, else string).
nlohmann::json resolve_plain_scalar(const std::string& s) {
  static const std::regex kBool("yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF");
  static const std::regex kNull("~|null|Null|NULL|");
  static const std::regex kInt("[-+]?(0|[1-9][0-9_]*)");
  static const std::regex kHex("[-+]?0x[0-9a-fA-F_]+");
  static const std::regex kFloat(R"([-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?)");
  static const std::regex kFloatExp(R"([-+]?[0-9][0-9_]*(\.[0-9_]*)?[eE][-+]?[0-9]+)");
  static const std::regex kInf(R"([-+]?\.(inf|Inf|INF))");
  static const std::regex kNan(R"(\.(nan|NaN|NAN))");
  if (std::regex_match(s, kNull)) return nullptr;
  if (std::regex_match(s, kBool)) {
    char c = s[0];
    return c == 'y' || c == 'Y' || c == 't' || c == 'T' || (s.size() == 2 && (c == 'o' || c == 'O'));
  }
  auto strip = [](std::string v) {
    v.erase(std::remove(v.begin(), v.end(), '_'), v.end());
    return v;
  };
  try {
    if (std::regex_match(s, kInt)) return std::stoll(strip(s));
    if (std::regex_match(s, kHex)) return std::stoll(strip(s), nullptr, 16);
    if (std::regex_match(s, kInf)) return s[0] == '-' ? -INFINITY : INFINITY;
    if (std::regex_match(s, kNan)) return NAN;
    if (s != "." && (std::regex_match(s, kFloat) || std::regex_match(s, kFloatExp))) return std::stod(strip(s));
  } catch (const std::out_of_range&) {
    return s;  // too large for a number: keep the text, the typed reader reports it
  }
  return s;
}

nlohmann::json to_json(const YAML::Node& node, const std::string& label) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar:
      // A quoted scalar has the non-specific tag "!"; only plain scalars are resolved.
      return node.Tag() == "!" ? nlohmann::json(node.Scalar()) : resolve_plain_scalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(to_json(item, label));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& item : node) {
        if (!item.first.IsScalar())
          throw Error(cat(label, ":", item.first.Mark().line + 1, ": mapping keys must be plain scalars"));
        const std::string key = item.first.Scalar();
        if (out.contains(key)) throw Error(cat(label, ":", item.first.Mark().line + 1, ": duplicate key '", key, "'"));
        out[key] = to_json(item.second, label);
      }
      return out;
    }
  }
  return nullptr;
}

}  // namespace

nlohmann::json load_json_file(const std::string& path) {
  std::string text = read_text(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(path + ": invalid JSON: " + e.what());
  }
}

nlohmann::json parse_yaml(const std::string& text, const std::string& label) {
  try {
    return to_json(YAML::Load(text), label);
  } catch (const YAML::Exception& e) {
    throw Error(cat(label, ":", e.mark.line + 1, ":", e.mark.column + 1, ": invalid YAML: ", e.msg));
  }
}

nlohmann::json load_yaml_file(const std::string& path) { return parse_yaml(read_text(path), path); }

}  // namespace omnitune
