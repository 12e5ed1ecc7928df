// io/safetensors_header: parsing and validating the header of a safetensors file, and building one.
// Layout: u64 little-endian header length N, N bytes of JSON, then the raw tensor bytes. Nothing here
// trusts the file: every length, offset and shape is checked, and errors name the file and tensor.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "omnitune/io/dtype.h"

namespace omnitune {

struct TensorEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data section
  uint64_t end = 0;

  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::vector<TensorEntry> tensors;             // in the order of their data offsets
  std::map<std::string, std::string> metadata;  // "__metadata__"
  uint64_t data_start = 0;                      // absolute offset of the data section (8 + N)
};

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // as the reference implementation limits it

// Parses the header of a complete file image `bytes[0..size)`. Throws omnitune::Error naming `file`.
SafetensorsHeader parse_safetensors(const uint8_t* bytes, uint64_t size, const std::string& file);

// The 8-byte length + JSON header (space-padded to a multiple of 8) for tensors laid out in order.
// Fills in each entry's begin/end. The data section then holds the tensors back to back.
std::string build_safetensors_header(std::vector<TensorEntry>& tensors,
                                     const std::map<std::string, std::string>& metadata);

}  // namespace omnitune
