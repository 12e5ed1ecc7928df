// model/thinker_inputs_file: a batch stored as safetensors with the Hugging Face forward argument names
// (input_ids, attention_mask, labels, pixel_values, image_grid_thw, pixel_values_videos, video_grid_thw,
// video_second_per_grid, input_features, feature_attention_mask) and metadata use_audio_in_video
// ("true"/"false"): what `omnitune data dump` writes and `omnitune forward` reads.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

#include "omnitune/model/thinker.h"

namespace omnitune {

// Every tensor on `device`. An unknown tensor name is an error naming the closest valid one.
ThinkerInputs read_thinker_inputs(const std::string& path, at::Device device = at::kCPU);
// The defined inputs, under their names, with use_audio_in_video and `metadata` in the file's metadata.
void write_thinker_inputs(const std::string& path, const ThinkerInputs& in,
                          std::map<std::string, std::string> metadata = {});

// A batch from outside (a file) checked against the model before it runs, errors naming `where` and the
// tensor: shapes agree ([B, S] with B, S >= 1), dtypes are integer where ids are, attention_mask holds 0/1,
// labels are -100 or a token id, floating inputs are finite, media come with their grids / masks and the
// placeholder tokens of a modality come with its inputs (no image tokens without pixel_values).
void check_thinker_inputs(const ThinkerInputs& in, const ThinkerConfig& config, const std::string& where);

}  // namespace omnitune
