#include "omnitune/weights/shard_writer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "omnitune/core/error.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/io/safetensors_checkpoint.h"
#include "omnitune/io/safetensors_header.h"

namespace fs = std::filesystem;

namespace omnitune {

uint64_t StreamedTensor::nbytes() const {
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

namespace {

void write_file(const std::string& path, const std::vector<const StreamedTensor*>& tensors,
                const std::map<std::string, std::string>& metadata, const std::function<void(uint64_t)>& progress) {
  std::vector<const StreamedTensor*> order = tensors;
  std::stable_sort(order.begin(), order.end(),
                   [](const StreamedTensor* a, const StreamedTensor* b) { return dtype_size(a->dtype) > dtype_size(b->dtype); });
  std::vector<TensorEntry> entries;
  for (const StreamedTensor* t : order) entries.push_back({t->name, t->dtype, t->shape, 0, 0});
  std::string header = build_safetensors_header(entries, metadata);
  AtomicFileWriter out(path);
  out.write(header.data(), header.size());
  for (const StreamedTensor* t : order) {
    uint64_t written = 0;
    const uint64_t expected = t->nbytes();
    t->produce([&](const void* data, size_t size) {
      if (written + size > expected)
        throw Error(cat(path, ": tensor '", t->name, "' produced more than its ", expected, " bytes"));
      out.write(data, size);
      written += size;
      if (progress) progress(size);
    });
    if (written != expected) throw Error(cat(path, ": tensor '", t->name, "' produced ", written, " of its ", expected, " bytes"));
  }
  out.commit();
}

}  // namespace

std::vector<std::string> write_streamed_shards(const std::string& dir, const std::vector<StreamedTensor>& tensors,
                                               uint64_t max_shard_bytes, const std::map<std::string, std::string>& metadata,
                                               const std::function<void(uint64_t)>& progress) {
  if (!fs::is_directory(dir)) throw Error(dir + ": output directory does not exist");
  std::set<std::string> names;
  for (const auto& t : tensors)
    if (!names.insert(t.name).second) throw Error(dir + ": tensor '" + t.name + "' would be written twice");
  std::vector<std::vector<const StreamedTensor*>> groups(1);
  uint64_t group_bytes = 0, total = 0;
  for (const auto& t : tensors) {
    if (!groups.back().empty() && group_bytes + t.nbytes() > max_shard_bytes) {
      groups.emplace_back();
      group_bytes = 0;
    }
    groups.back().push_back(&t);
    group_bytes += t.nbytes();
    total += t.nbytes();
  }
  std::vector<std::string> written;
  if (groups.size() == 1) {
    written.push_back((fs::path(dir) / kSingleFileName).string());
    write_file(written.back(), groups[0], metadata, progress);
    return written;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < groups.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, groups.size());
    written.push_back((fs::path(dir) / name).string());
    write_file(written.back(), groups[i], metadata, progress);
    for (const StreamedTensor* t : groups[i]) weight_map[t->name] = name;
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  written.push_back((fs::path(dir) / kIndexFileName).string());
  write_file_atomic(written.back(), index.dump(2) + "\n");
  return written;
}

}  // namespace omnitune
