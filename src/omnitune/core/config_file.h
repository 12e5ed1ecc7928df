// core/config_file: reading a config file from disk into a JSON value, with errors that name the
// file and the line. YAML is resolved the way PyYAML (the seed's reader) resolves it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace omnitune {

// A key given twice in one object is an error naming the file and its JSON path.
nlohmann::json load_json_file(const std::string& path);
nlohmann::json parse_json(const std::string& text, const std::string& label);
// Aliases are expanded with a bound on the number of values (no "alias bomb").
nlohmann::json load_yaml_file(const std::string& path);
nlohmann::json parse_yaml(const std::string& text, const std::string& label);

}  // namespace omnitune
