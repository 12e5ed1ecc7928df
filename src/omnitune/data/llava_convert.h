// data/llava_convert: LLaVA-Instruct records ({"image", "conversations": [{"from": "human"|"gpt",
// "value"}]}) -> the messages format the example data.json reads ({"messages": [{"role", "content"}],
// "images": [...]}). Records whose image is missing are skipped and reported.
#pragma once

#include <string>
#include <vector>

namespace omnitune {

struct LlavaConvertReport {
  int64_t written = 0;
  std::vector<std::string> missing_images;  // skipped records' image files
};

// Writes `out_json` (which must not exist) atomically. Image paths are written as `image_root/<image>`.
LlavaConvertReport convert_llava(const std::string& llava_json, const std::string& image_root,
                                 const std::string& out_json);

}  // namespace omnitune
