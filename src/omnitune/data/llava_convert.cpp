#include "omnitune/data/llava_convert.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/io/atomic_file.h"

namespace omnitune {

LlavaConvertReport convert_llava(const std::string& llava_json, const std::string& image_root,
                                 const std::string& out_json) {
  if (std::filesystem::exists(out_json)) throw Error(out_json + ": already exists; refusing to overwrite it");
  nlohmann::json records = load_json_file(llava_json);
  if (!records.is_array()) throw Error(llava_json + ": expected a JSON array of LLaVA records");
  LlavaConvertReport report;
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < records.size(); ++i) {
    const nlohmann::json& r = records[i];
    const std::string where = cat(llava_json, " record ", i);
    if (!r.is_object() || !r.contains("conversations") || !r["conversations"].is_array())
      throw Error(where + ": needs a 'conversations' list");
    nlohmann::json row = {{"messages", nlohmann::json::array()}, {"images", nlohmann::json::array()}};
    if (r.contains("image") && r["image"].is_string()) {
      std::string path = (std::filesystem::path(image_root) / r["image"].get<std::string>()).string();
      if (!std::filesystem::is_regular_file(path)) {
        report.missing_images.push_back(path);
        continue;
      }
      row["images"].push_back(path);
    }
    for (const auto& turn : r["conversations"]) {
      std::string from = turn.value("from", ""), role;
      if (from == "human")
        role = "user";
      else if (from == "gpt")
        role = "assistant";
      else
        throw Error(where + ": unknown speaker '" + from + "' (expected human or gpt)");
      row["messages"].push_back({{"role", role}, {"content", turn.value("value", "")}});
    }
    out.push_back(std::move(row));
    ++report.written;
  }
  write_file_atomic(out_json, out.dump(2) + "\n");
  return report;
}

}  // namespace omnitune
