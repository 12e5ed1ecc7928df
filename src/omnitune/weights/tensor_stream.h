// weights/tensor_stream: tensors fed to a ByteSink in bounded pieces (about kPieceBytes along dim 0), and
// the mapped file pages that have been consumed handed back to the system, so that converting or saving
// a checkpoint of any size needs a fixed amount of memory.
#pragma once

#include <cstdint>

#include <ATen/Tensor.h>

#include "omnitune/io/safetensors_file.h"
#include "omnitune/weights/shard_writer.h"

namespace omnitune {

inline constexpr uint64_t kPieceBytes = 64ull << 20;

// `t` (any device, any dtype) as row-major `dtype` bytes.
void emit_tensor(const at::Tensor& t, at::ScalarType dtype, const ByteSink& sink);

// Tensor `entry` of `file` as `dtype` bytes (the stored bytes unchanged when the dtype matches); the pages
// of each piece are released once it is written.
void emit_mapped(const SafetensorsFile& file, const TensorEntry& entry, at::ScalarType dtype, const ByteSink& sink);

// Drops the pages holding bytes [offset, offset + size) of `entry` from this process's memory
// (madvise DONTNEED). The mapping is private and never written to, so a later read faults the same bytes
// back in from the file: only memory is affected, never data.
void release_pages(const SafetensorsFile& file, const TensorEntry& entry, uint64_t offset = 0,
                   uint64_t size = UINT64_MAX);

}  // namespace omnitune
