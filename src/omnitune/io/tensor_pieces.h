// io/tensor_pieces: tensors stored whole or cut into row blocks over several safetensors files — the layout
// the ranks of a sharded job write, which torch.distributed.checkpoint's Hugging Face storage also reads:
// each file's metadata `DCP_SHARDING_INFO` = {"<tensor>": {"saved_offsets": [row, 0, ...]}, ...} says where
// its block of each tensor starts (a file without it holds whole tensors). On opening, every tensor's
// blocks must tile its rows exactly (no gap, no overlap, same trailing shape and dtype); a 0-d tensor may
// appear in several files (the same value). Reads touch only the mapped pages of the rows asked for.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/io/safetensors_file.h"

namespace omnitune {

inline constexpr const char* kShardingInfoKey = "DCP_SHARDING_INFO";

struct TensorPiece {
  const SafetensorsFile* file = nullptr;
  const TensorEntry* entry = nullptr;
  int64_t first_row = 0;  // where entry's rows start in the whole tensor
};

class TensorPieces {
 public:
  // Error naming the file and tensor when the blocks do not fit together.
  explicit TensorPieces(const std::vector<std::string>& files);

  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return pieces_.count(name) > 0; }
  const std::vector<TensorPiece>& pieces(const std::string& name) const;  // by first_row; Error when absent
  std::vector<int64_t> shape(const std::string& name) const;              // of the whole tensor
  DType dtype(const std::string& name) const;
  bool sharded() const { return sharded_; }  // some tensor is cut into several blocks
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

  // Rows [first, first + count) of `name` (count -1: to the end) as a CPU tensor of its stored dtype; a view
  // of the mapping when one block holds them all, else a copy.
  at::Tensor read(const std::string& name, int64_t first = 0, int64_t count = -1) const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::vector<TensorPiece>> pieces_;
  bool sharded_ = false;
};

// The DCP_SHARDING_INFO text for tensors whose blocks start at `first_rows` (same order as `names`).
std::string sharding_info(const std::vector<std::string>& names, const std::vector<std::vector<int64_t>>& offsets);

}  // namespace omnitune
