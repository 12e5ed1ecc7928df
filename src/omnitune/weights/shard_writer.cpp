#include "omnitune/weights/shard_writer.h"

#include <algorithm>
#include <set>

#include "omnitune/core/error.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/io/safetensors_checkpoint.h"
#include "omnitune/io/safetensors_header.h"

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
  std::stable_sort(order.begin(), order.end(), [](const StreamedTensor* a, const StreamedTensor* b) {
    return dtype_size(a->dtype) > dtype_size(b->dtype);
  });
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
    if (written != expected)
      throw Error(cat(path, ": tensor '", t->name, "' produced ", written, " of its ", expected, " bytes"));
  }
  out.commit();
}

}  // namespace

std::vector<std::string> write_streamed_shards(const std::string& dir, const std::vector<StreamedTensor>& tensors,
                                               uint64_t max_shard_bytes,
                                               const std::map<std::string, std::string>& metadata,
                                               const std::function<void(uint64_t)>& progress, const WriterPart& part) {
  std::set<std::string> seen;
  std::vector<std::string> names;
  std::vector<uint64_t> nbytes;
  for (const auto& t : tensors) {
    if (!seen.insert(t.name).second) throw Error(dir + ": tensor '" + t.name + "' would be written twice");
    names.push_back(t.name);
    nbytes.push_back(t.nbytes());
  }
  return write_shards(
      dir, names, nbytes, max_shard_bytes,
      [&](const std::string& path, const std::vector<size_t>& members) {
        std::vector<const StreamedTensor*> shard;
        for (size_t i : members) shard.push_back(&tensors[i]);
        write_file(path, shard, metadata, progress);
      },
      part);
}

}  // namespace omnitune
