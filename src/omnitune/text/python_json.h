// text/python_json: JSON text exactly as Python's json.dumps(obj, ensure_ascii=False) writes it
// (", " and ": " separators, keys in their given order), for prompts that must match the seed's.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace omnitune {

std::string python_json_dumps(const nlohmann::ordered_json& value);

}  // namespace omnitune
