#include "omnitune/model/thinker_inputs_file.h"

#include <algorithm>
#include <vector>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"
#include "omnitune/io/safetensors_file.h"
#include "omnitune/io/torch_tensors.h"

namespace omnitune {

namespace {

const std::vector<std::string> kBatchNames = {
    "input_ids",           "attention_mask", "labels",                "pixel_values",   "image_grid_thw",
    "pixel_values_videos", "video_grid_thw", "video_second_per_grid", "input_features", "feature_attention_mask"};

}  // namespace

ThinkerInputs read_thinker_inputs(const std::string& path, at::Device device) {
  SafetensorsFile file(path);
  for (const auto& t : file.tensors())
    if (std::find(kBatchNames.begin(), kBatchNames.end(), t.name) == kBatchNames.end())
      throw Error(path + ": unknown batch tensor '" + t.name + "'" + did_you_mean(t.name, kBatchNames));
  auto get = [&](const char* name) {
    return file.find(name) ? read_tensor(file, *file.find(name)).to(device) : at::Tensor();
  };
  ThinkerInputs in;
  in.input_ids = get("input_ids");
  if (!in.input_ids.defined()) throw Error(path + ": the batch has no 'input_ids'");
  in.attention_mask = get("attention_mask");
  in.labels = get("labels");
  in.pixel_values = get("pixel_values");
  in.image_grid_thw = get("image_grid_thw");
  in.pixel_values_videos = get("pixel_values_videos");
  in.video_grid_thw = get("video_grid_thw");
  in.video_second_per_grid = get("video_second_per_grid");
  in.input_features = get("input_features");
  in.feature_attention_mask = get("feature_attention_mask");
  auto flag = file.metadata().find("use_audio_in_video");
  if (flag != file.metadata().end()) {
    if (flag->second != "true" && flag->second != "false")
      throw Error(path + ": metadata use_audio_in_video must be \"true\" or \"false\", got \"" + flag->second + "\"");
    in.use_audio_in_video = flag->second == "true";
  }
  return in;
}

}  // namespace omnitune
