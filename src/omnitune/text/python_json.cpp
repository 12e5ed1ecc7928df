#include "omnitune/text/python_json.h"

namespace omnitune {

std::string python_json_dumps(const nlohmann::ordered_json& v) {
  switch (v.type()) {
    case nlohmann::ordered_json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (const auto& item : v.items()) {
        out += (first ? "" : ", ") + nlohmann::ordered_json(item.key()).dump(-1, ' ', false) + ": " +
               python_json_dumps(item.value());
        first = false;
      }
      return out + "}";
    }
    case nlohmann::ordered_json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + python_json_dumps(v[i]);
      return out + "]";
    }
    default: return v.dump(-1, ' ', false);  // strings keep non-ASCII characters as they are (ensure_ascii=False)
  }
}

}  // namespace omnitune
