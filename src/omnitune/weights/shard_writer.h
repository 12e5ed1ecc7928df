// weights/shard_writer: the Hugging Face safetensors layout (model.safetensors, or model-0000i-of-0000N
// shards + model.safetensors.index.json written last) written tensor by tensor: each tensor produces its
// bytes in pieces, so memory holds one piece, never a shard. Conversion and checkpoint saving use it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "omnitune/io/dtype.h"
#include "omnitune/io/safetensors_checkpoint.h"

namespace omnitune {

using ByteSink = std::function<void(const void* data, size_t size)>;

struct StreamedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::function<void(const ByteSink&)> produce;  // the tensor's row-major bytes, in order, in any number of pieces
  uint64_t nbytes() const;
};

// Shards of at most `max_shard_bytes` (a bigger tensor gets one of its own), tensors in the given order
// (within a file, larger element sizes first, which keeps every tensor aligned). Every file is written
// atomically; `progress` (optional) is called with the bytes of each piece. `part`: this writer's files when
// several write the layout together. Returns the files written.
std::vector<std::string> write_streamed_shards(const std::string& dir, const std::vector<StreamedTensor>& tensors,
                                               uint64_t max_shard_bytes,
                                               const std::map<std::string, std::string>& metadata = {},
                                               const std::function<void(uint64_t)>& progress = {},
                                               const WriterPart& part = {});

}  // namespace omnitune
