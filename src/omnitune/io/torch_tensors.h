// io/torch_tensors: safetensors <-> at::Tensor. Reads are zero-copy views of the file mapping
// (the tensor keeps the mapping alive); writes take any CPU or GPU tensors.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/io/safetensors_checkpoint.h"

namespace omnitune {

at::ScalarType to_scalar_type(DType dtype);
DType to_dtype(at::ScalarType type, const std::string& tensor_name);  // Error for unsupported types

// The tensor `entry` of `file` on the CPU. Zero-copy when the data is aligned to its element size
// (always so for files written by safetensors or OmniTune); else a copy. Writes to the view land in
// private copy-on-write pages, never in the file.
at::Tensor read_tensor(const SafetensorsFile& file, const TensorEntry& entry);
at::Tensor read_tensor(const SafetensorsCheckpoint& checkpoint, const std::string& name);

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Atomic single-file write (tensors moved to CPU and made contiguous as needed).
void save_tensors(const std::string& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata = {});
// Hugging Face sharded layout in `dir`; see write_sharded_safetensors.
std::vector<std::string> save_tensors_sharded(const std::string& dir, const NamedTensors& tensors,
                                              uint64_t max_shard_bytes,
                                              const std::map<std::string, std::string>& metadata = {});

}  // namespace omnitune
