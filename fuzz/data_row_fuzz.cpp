// libFuzzer target: any bytes as one dataset row (a JSONL line) go through the row parser of each row
// format (sharegpt messages with the attr tags, multimodal_tool, alpaca, openai): a conversation or an
// omnitune::Error — never a crash, hang, leak or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omnitune/core/error.h"
#include "omnitune/data/data_config.h"
#include "omnitune/data/row_reader.h"

namespace {

omnitune::DataConfig config(const std::string& attr) {
  const std::string text = R"({"dataset_param": {"preprocess_parameters": {"model_name_or_path": "m"},
      "basic_parameters": {"dataset": "rows.jsonl", "dataset_dir": "/nonexistent", "template": "qwen3_omni"},
      "attr": )" + attr + "}}";
  return omnitune::read_data_config(nlohmann::json::parse(text), "fuzz/data.json");
}

const std::vector<omnitune::DataConfig>& configs() {
  static const std::vector<omnitune::DataConfig> all = {
      config(R"({"messages": "messages", "role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "system_tag": "system", "images": "images", "videos": "videos",
                 "audios": "audios"})"),
      config(R"({"messages": "conversations", "role_tag": "from", "content_tag": "value", "user_tag": "human",
                 "assistant_tag": "gpt", "observation_tag": "observation", "function_tag": "function_call",
                 "system_tag": "system", "tools": "tools", "images": "images"})"),
      config(R"({"formatting": "multimodal_tool", "messages": "messages", "tools": "tools", "images": "images"})"),
      config(R"({"formatting": "alpaca", "prompt": "instruction", "query": "input", "response": "output",
                 "system": "system", "history": "history", "images": "images"})"),
      config(R"({"formatting": "openai", "messages": "messages", "images": "images", "audios": "audios"})"),
  };
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json row = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (row.is_discarded()) return 0;
  for (const auto& c : configs()) {
    try {
      omnitune::read_row(row, c, "fuzz row");
    } catch (const omnitune::Error&) {
    }
  }
  return 0;
}
