// io/safetensors_file: a safetensors file mapped into memory (zero-copy reads) and the atomic writer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "omnitune/io/safetensors_header.h"

namespace omnitune {

// A private, copy-on-write mapping of a whole file: writes through it never reach the file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(std::string path);  // maps and validates; throws Error naming the file

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const std::vector<TensorEntry>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }

  const TensorEntry* find(const std::string& name) const;  // nullptr when absent
  const TensorEntry& at(const std::string& name) const;    // Error naming the closest tensor when absent
  // The tensor's bytes inside the mapping (writable copy-on-write pages, valid while `mapping()` lives).
  std::span<uint8_t> bytes(const TensorEntry& entry) const;
  const std::shared_ptr<MappedFile>& mapping() const { return mapping_; }

 private:
  std::string path_;
  std::shared_ptr<MappedFile> mapping_;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
};

// One tensor to write: raw little-endian bytes in row-major order.
struct TensorBytes {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
  uint64_t nbytes;
};

// Writes a safetensors file atomically. Tensors are laid out largest element size first (so every
// tensor is aligned to its element size), then in the given order.
void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace omnitune
