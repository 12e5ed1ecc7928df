// demo/dataset: the demo's rows and the data.json that trains on all of them. Rows use the messages
// format with role/content keys (user, assistant, system, tool_call, tool_response) and a `tools`
// column, which the multimodal_tool formatting reads, so one data.json covers captioning of images,
// audio and video (with its sound track), text, multi-turn and tool-call rows.
#pragma once

#include <cstdint>
#include <string>

#include "media_set.h"
#include "rng.h"

namespace omnitune::demo {

struct DatasetSummary {
  std::string data_json;  // <dir>/data.json
  int64_t rows = 0;
  int64_t files = 0;  // row files it lists
};

// Writes `rows` rows, kinds in turn (image caption, audio, video, text, multi-turn about an image, tool
// call, system prompt with an image and a clip) into one file per kind, then data.json. `dir` and
// `tokenizer_dir` are written as absolute paths. `val_rows` > 0: data.json holds that many rows out for
// validation (val_rate).
DatasetSummary write_dataset(Rng& rng, const MediaSet& media, const std::string& dir, const std::string& tokenizer_dir,
                             int64_t rows, int64_t val_rows = 0);

}  // namespace omnitune::demo
