// data/sample_file: a built Sample as safetensors tensors + metadata and back (the layout of a
// sample-cache entry). Tensors: input_ids, labels [S] int64; image.K [N_k, 1536], video.K [N_k, 1536],
// audio.K [128, T_k] float32; image_grid_thw, video_grid_thw [n, 3] int64; video_second_per_grid [n]
// float64. Metadata: text, use_audio_in_video.
#pragma once

#include <map>
#include <string>

#include "omnitune/data/sample.h"
#include "omnitune/io/torch_tensors.h"

namespace omnitune {

NamedTensors sample_tensors(const Sample& sample);
std::map<std::string, std::string> sample_metadata(const Sample& sample);

// The Sample stored in `file` (tensors are views of its mapping). Error naming the file and the tensor
// when anything is missing or inconsistent.
Sample read_sample(const SafetensorsFile& file);

}  // namespace omnitune
