// Test helper for tests/python/test_rope_index.py:
//   rope_index_tool <config.json> <inputs.safetensors> <out.safetensors>
// reads `input_ids` and the optional `attention_mask`, `image_grid_thw`, `video_grid_thw`,
// `video_second_per_grid`, `audio_seqlens` (plus the metadata key `use_audio_in_video`, "true"/"false"),
// runs get_rope_index with the thinker config and writes `position_ids`.
#include <ATen/ATen.h>

#include <iostream>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/io/safetensors_file.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/config.h"
#include "omnitune/model/rope_index.h"

namespace {

// The named tensor, or an undefined one when the file lacks it.
at::Tensor optional_tensor(const omnitune::SafetensorsFile& file, const std::string& name) {
  const omnitune::TensorEntry* entry = file.find(name);
  return entry ? omnitune::read_tensor(file, *entry) : at::Tensor();
}

bool use_audio_in_video(const omnitune::SafetensorsFile& file) {
  const auto it = file.metadata().find("use_audio_in_video");
  if (it == file.metadata().end() || it->second == "false") return false;
  if (it->second == "true") return true;
  throw omnitune::Error(file.path() + ": metadata use_audio_in_video must be \"true\" or \"false\", got \"" +
                        it->second + "\"");
}

int run(char** argv) {
  const omnitune::ThinkerConfig config = omnitune::load_thinker_config(argv[1]);
  const omnitune::SafetensorsFile inputs(argv[2]);
  omnitune::RopeIndexInputs in;
  in.input_ids = omnitune::read_tensor(inputs, inputs.at("input_ids"));  // required: Error when absent
  in.attention_mask = optional_tensor(inputs, "attention_mask");
  in.image_grid_thw = optional_tensor(inputs, "image_grid_thw");
  in.video_grid_thw = optional_tensor(inputs, "video_grid_thw");
  in.video_second_per_grid = optional_tensor(inputs, "video_second_per_grid");
  in.audio_seqlens = optional_tensor(inputs, "audio_seqlens");
  in.use_audio_in_video = use_audio_in_video(inputs);
  omnitune::save_tensors(argv[3], {{"position_ids", omnitune::get_rope_index(config, in)}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: rope_index_tool <config.json> <inputs.safetensors> <out.safetensors>\n";
    return 2;
  }
  try {
    return run(argv);
  } catch (const omnitune::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
