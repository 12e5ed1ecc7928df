// io/atomic_file: write a file so that readers see either the old version or the complete new one.
// Data goes to "<path>.tmp-<pid>-<n>" in the same directory, is fsync'ed, then renamed over <path>
// (and the directory fsync'ed). Destroying the writer without commit() removes the temp file.
#pragma once

#include <cstddef>
#include <string>

namespace omnitune {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);  // throws Error on a short write (disk full, ...)
  void commit();                              // fsync + rename + fsync(dir)
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
};

// Writes `contents` to `path` atomically.
void write_file_atomic(const std::string& path, const std::string& contents);

// Makes the rename of a directory entry durable.
void fsync_directory(const std::string& dir);

}  // namespace omnitune
