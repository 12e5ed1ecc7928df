#include "omnitune/io/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"
#include "omnitune/io/atomic_file.h"

namespace omnitune {

MappedFile::MappedFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block: refused below
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw Error(path + ": mmap failed: " + std::strerror(err));
    }
    data_ = static_cast<uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

SafetensorsFile::SafetensorsFile(std::string path)
    : path_(std::move(path)), mapping_(std::make_shared<MappedFile>(path_)) {
  header_ = parse_safetensors(mapping_->data(), mapping_->size(), path_);
  for (size_t i = 0; i < header_.tensors.size(); ++i) index_[header_.tensors[i].name] = i;
}

const TensorEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

const TensorEntry& SafetensorsFile::at(const std::string& name) const {
  if (const TensorEntry* entry = find(name)) return *entry;
  std::vector<std::string> names;
  for (const auto& t : header_.tensors) names.push_back(t.name);
  throw Error(path_ + ": no tensor '" + name + "'" + did_you_mean(name, names));
}

std::span<uint8_t> SafetensorsFile::bytes(const TensorEntry& entry) const {
  return {mapping_->data() + header_.data_start + entry.begin, entry.nbytes()};
}

void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return dtype_size(tensors[a].dtype) > dtype_size(tensors[b].dtype); });
  std::vector<TensorEntry> entries;
  for (size_t i : order) entries.push_back({tensors[i].name, tensors[i].dtype, tensors[i].shape, 0, 0});
  std::string header = build_safetensors_header(entries, metadata);
  for (size_t k = 0; k < order.size(); ++k) {
    const TensorBytes& t = tensors[order[k]];
    if (entries[k].nbytes() != t.nbytes)
      throw Error(
          cat(path, ": tensor '", t.name, "': shape and dtype need ", entries[k].nbytes(), " bytes, got ", t.nbytes));
  }
  AtomicFileWriter out(path);
  out.write(header.data(), header.size());
  for (size_t i : order) out.write(tensors[i].data, tensors[i].nbytes);
  out.commit();
}

}  // namespace omnitune
