// core/config_file: reading a config file from disk into a JSON value, with errors that name the
// file and the line. YAML is resolved the way PyYAML (the seed's reader) resolves it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace omnitune {

nlohmann::json load_json_file(const std::string& path);
nlohmann::json load_yaml_file(const std::string& path);
nlohmann::json parse_yaml(const std::string& text, const std::string& label);

}  // namespace omnitune
