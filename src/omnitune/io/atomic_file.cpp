#include "omnitune/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {
std::string errno_text() { return std::strerror(errno); }
std::atomic<int> g_counter{0};
}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  temp_path_ = cat(path_, ".tmp-", getpid(), "-", g_counter++);
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path_ + ": cannot create file for writing: " + errno_text());
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(path_ + ": write failed: " + (n < 0 ? errno_text() : std::string("no space written")));
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  if (::fsync(fd_) != 0) throw Error(path_ + ": fsync failed: " + errno_text());
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(temp_path_.c_str());
    throw Error(path_ + ": close failed: " + errno_text());
  }
  fd_ = -1;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    std::string reason = errno_text();
    ::unlink(temp_path_.c_str());
    throw Error(path_ + ": rename from temporary file failed: " + reason);
  }
  auto dir = std::filesystem::path(path_).parent_path();
  fsync_directory(dir.empty() ? "." : dir.string());
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  AtomicFileWriter out(path);
  out.write(contents.data(), contents.size());
  out.commit();
}

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // not fatal: the rename itself has happened
  ::fsync(fd);
  ::close(fd);
}

}  // namespace omnitune
