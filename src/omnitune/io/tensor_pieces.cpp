#include "omnitune/io/tensor_pieces.h"

#include <ATen/ATen.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"
#include "omnitune/io/torch_tensors.h"

namespace omnitune {

namespace {

// The saved_offsets of every tensor of `file` (empty: whole tensors).
std::map<std::string, std::vector<int64_t>> offsets_of(const SafetensorsFile& file) {
  std::map<std::string, std::vector<int64_t>> out;
  auto it = file.metadata().find(kShardingInfoKey);
  if (it == file.metadata().end()) return out;
  try {
    const nlohmann::json info = nlohmann::json::parse(it->second);
    for (const TensorEntry& e : file.tensors()) {
      if (!info.contains(e.name))
        throw Error(cat(file.path(), ": ", kShardingInfoKey, " does not place tensor ", e.name));
      std::vector<int64_t> offsets = info.at(e.name).at("saved_offsets").get<std::vector<int64_t>>();
      if (offsets.size() != e.shape.size())
        throw Error(cat(file.path(), ": ", kShardingInfoKey, " of ", e.name, " has ", offsets.size(),
                        " offsets for a tensor of ", e.shape.size(), " dimensions"));
      for (size_t d = 1; d < offsets.size(); ++d)
        if (offsets[d] != 0)
          throw Error(cat(file.path(), ": ", e.name, " is cut along dimension ", d,
                          "; only blocks of rows (dimension 0) are supported"));
      out[e.name] = offsets;
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat(file.path(), ": metadata ", kShardingInfoKey, " is not valid: ", e.what()));
  }
  return out;
}

}  // namespace

TensorPieces::TensorPieces(const std::vector<std::string>& files) {
  for (const std::string& path : files) {
    files_.push_back(std::make_unique<SafetensorsFile>(path));
    const SafetensorsFile& file = *files_.back();
    const auto offsets = offsets_of(file);
    for (const TensorEntry& e : file.tensors()) {
      auto it = offsets.find(e.name);
      const int64_t first = it == offsets.end() || it->second.empty() ? 0 : it->second[0];
      pieces_[e.name].push_back({&file, &e, first});
    }
  }
  for (auto& [name, list] : pieces_) {
    std::sort(list.begin(), list.end(),
              [](const TensorPiece& a, const TensorPiece& b) { return a.first_row < b.first_row; });
    const TensorEntry& head = *list.front().entry;
    if (head.shape.empty()) {  // a 0-d tensor (a step count) kept by several writers: one is enough
      list.resize(1);
      continue;
    }
    int64_t next = 0;
    for (const TensorPiece& p : list) {
      const TensorEntry& e = *p.entry;
      std::vector<int64_t> tail(e.shape.begin() + 1, e.shape.end()),
          head_tail(head.shape.begin() + 1, head.shape.end());
      if (e.dtype != head.dtype || tail != head_tail)
        throw Error(cat(p.file->path(), ": block of ", name, " (", dtype_name(e.dtype), " ", c10::IntArrayRef(e.shape),
                        ") does not match its block in ", list.front().file->path(), " (", dtype_name(head.dtype), " ",
                        c10::IntArrayRef(head.shape), ")"));
      if (p.first_row != next)
        throw Error(cat(p.file->path(), ": ", name, " rows from ", p.first_row, ", but the blocks before end at row ",
                        next, p.first_row > next ? " (a file of the checkpoint is missing?)" : " (blocks overlap)"));
      next += e.shape[0];
    }
    sharded_ = sharded_ || list.size() > 1;
  }
}

std::vector<std::string> TensorPieces::names() const {
  std::vector<std::string> out;
  for (const auto& [name, list] : pieces_) out.push_back(name);
  return out;
}

const std::vector<TensorPiece>& TensorPieces::pieces(const std::string& name) const {
  auto it = pieces_.find(name);
  if (it == pieces_.end()) {
    const std::string near = closest_match(name, names());
    throw Error(cat("no tensor ", name, " in ", files_.empty() ? std::string("(no files)") : files_.front()->path(),
                    near.empty() ? "" : cat(" (closest: ", near, ")")));
  }
  return it->second;
}

std::vector<int64_t> TensorPieces::shape(const std::string& name) const {
  const auto& list = pieces(name);
  std::vector<int64_t> out = list.front().entry->shape;
  if (!out.empty()) out[0] = list.back().first_row + list.back().entry->shape[0];
  return out;
}

DType TensorPieces::dtype(const std::string& name) const { return pieces(name).front().entry->dtype; }

at::Tensor TensorPieces::read(const std::string& name, int64_t first, int64_t count) const {
  const auto& list = pieces(name);
  const std::vector<int64_t> whole = shape(name);
  if (whole.empty()) return read_tensor(*list.front().file, *list.front().entry);
  if (count < 0) count = whole[0] - first;
  if (first < 0 || first + count > whole[0])
    throw Error(cat("rows [", first, ", ", first + count, ") of ", name, " are outside its ", whole[0], " rows"));
  std::vector<at::Tensor> parts;
  for (const TensorPiece& p : list) {
    const int64_t rows = p.entry->shape[0];
    const int64_t from = std::max(first, p.first_row), to = std::min(first + count, p.first_row + rows);
    if (from < to) parts.push_back(read_tensor(*p.file, *p.entry).narrow(0, from - p.first_row, to - from));
  }
  if (parts.size() == 1) return parts[0];
  if (parts.empty()) {
    std::vector<int64_t> empty = whole;
    empty[0] = 0;
    return at::empty(empty, at::TensorOptions().dtype(to_scalar_type(dtype(name))));
  }
  return at::cat(parts, 0);
}

std::string sharding_info(const std::vector<std::string>& names, const std::vector<std::vector<int64_t>>& offsets) {
  nlohmann::json info = nlohmann::json::object();
  for (size_t i = 0; i < names.size(); ++i) info[names[i]] = {{"saved_offsets", offsets[i]}};
  return info.dump();
}

}  // namespace omnitune
