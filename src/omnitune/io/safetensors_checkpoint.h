// io/safetensors_checkpoint: a set of tensors stored as one safetensors file or as a directory of
// shards with `model.safetensors.index.json` (the Hugging Face layout), read and written as a whole.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "omnitune/io/safetensors_file.h"

namespace omnitune {

inline constexpr const char* kIndexFileName = "model.safetensors.index.json";
inline constexpr const char* kSingleFileName = "model.safetensors";

class SafetensorsCheckpoint {
 public:
  // `path`: a .safetensors file; a directory with model.safetensors (preferred, as transformers does, even
  // when an index is there too); a directory with model.safetensors.index.json; or a directory with a
  // single .safetensors file. The index is checked against the shards both ways.
  explicit SafetensorsCheckpoint(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<std::string>& names() const { return names_; }  // sorted
  bool contains(const std::string& name) const { return where_.count(name) > 0; }
  const TensorEntry& entry(const std::string& name) const;  // Error with the closest name when absent
  const SafetensorsFile& file_of(const std::string& name) const;
  std::span<uint8_t> bytes(const std::string& name) const { return file_of(name).bytes(entry(name)); }
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
  uint64_t total_bytes() const;  // sum of all tensor bytes

 private:
  void add_shard(const std::string& file);
  std::string path_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, size_t> where_;  // tensor -> shard
  std::vector<std::string> names_;
};

// "<stem>-0000i-of-0000N.safetensors" for part `index` (0-based) of `count`, as Hugging Face names its shards.
std::string part_file_name(const std::string& stem, size_t index, size_t count);

// Several processes writing one checkpoint together (the ranks of a job, each holding every tensor): file g
// of the layout (0-based, in order) is written by writer g % writers, the index by writer 0.
struct WriterPart {
  size_t writer = 0, writers = 1;
  bool writes(size_t file) const { return file % writers == writer; }
};

// Writes `tensors` into directory `dir` (which must exist) the way Hugging Face does: one
// model.safetensors when everything fits in `max_shard_bytes`, else model-0000i-of-0000N.safetensors
// shards plus model.safetensors.index.json (written last). Tensors stay in the given order; a tensor
// larger than the limit gets a shard of its own. Every file is written atomically.
// Returns the files written.
std::vector<std::string> write_sharded_safetensors(const std::string& dir, const std::vector<TensorBytes>& tensors,
                                                   uint64_t max_shard_bytes,
                                                   const std::map<std::string, std::string>& metadata = {});

// The same layout for any writer: tensor i is called names[i] and has nbytes[i] bytes; write_shard(path,
// members) writes one file (atomically) holding the tensors whose indices are `members`, in order. Returns
// the files this writer (`part`) wrote.
std::vector<std::string> write_shards(
    const std::string& dir, const std::vector<std::string>& names, const std::vector<uint64_t>& nbytes,
    uint64_t max_shard_bytes,
    const std::function<void(const std::string& path, const std::vector<size_t>& members)>& write_shard,
    const WriterPart& part = {});

// "4GB", "500MB", "1.5GiB", "123" (bytes) -> bytes; decimal units are powers of 1000 as in HF. At least
// 1 byte and below 2^63; errors start with `flag` ("--max-shard-size").
uint64_t parse_byte_size(const std::string& text, const std::string& flag);

}  // namespace omnitune
