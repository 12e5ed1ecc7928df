#include "omnitune/weights/staged_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/io/atomic_file.h"

namespace fs = std::filesystem;

namespace omnitune {

namespace {

void fsync_path(const fs::path& path, bool directory) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) throw Error(path.string() + ": cannot open to fsync: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0 && !(directory && err == EINVAL)) throw Error(path.string() + ": fsync failed: " + std::strerror(err));
}

// Absolute, normalised, without a trailing separator.
fs::path normalized(const std::string& path) {
  fs::path p = fs::absolute(path).lexically_normal();
  return p.has_filename() || p == p.root_path() ? p : p.parent_path();
}

// fsync every regular file below `dir`, then every directory (bottom up).
void fsync_tree(const std::string& dir) {
  std::vector<fs::path> dirs = {dir};
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_directory())
      dirs.push_back(entry.path());
    else if (entry.is_regular_file())
      fsync_path(entry.path(), false);
  }
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) fsync_path(*it, true);
}

void check_simple_name(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    throw Error("'" + name + "' is not a directory name");
}

}  // namespace

bool is_partial_dir_name(const std::string& filename) {
  size_t mark = filename.rfind(".partial-");
  if (filename.size() < 2 || filename[0] != '.' || mark == std::string::npos || mark < 2) return false;
  std::string pid = filename.substr(mark + 9);
  return !pid.empty() && pid.find_first_not_of("0123456789") == std::string::npos;
}

std::vector<std::string> report_partial_dirs(const std::string& parent) {
  std::vector<std::string> leftovers;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent.empty() ? "." : parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory(ec) || !is_partial_dir_name(name)) continue;
    const long pid =
        std::strtol(name.c_str() + name.rfind('-') + 1, nullptr, 10);  // LONG_MAX if absurd: no such process
    if (pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) {
      log_warn(cat(entry.path().string(), ": being written by process ", pid, " (still running)"));
      continue;
    }
    uint64_t bytes = 0;
    for (const auto& f : fs::recursive_directory_iterator(entry.path(), ec))
      if (f.is_regular_file(ec)) bytes += f.file_size(ec);
    leftovers.push_back(name);
    log_warn(cat(entry.path().string(), ": left by an interrupted write (process ", pid, " is gone), ", bytes / 1e6,
                 " MB; nothing reads it. Remove it with: rm -rf '", entry.path().string(), "'"));
  }
  return leftovers;
}

StagedDir::StagedDir(std::string parent, std::string name) : parent_(std::move(parent)) {
  check_simple_name(name);
  if (parent_.empty()) parent_ = ".";
  target_ = (fs::path(parent_) / name).string();
  std::error_code ec;
  fs::path missing;  // the topmost ancestor that does not exist yet
  for (fs::path p = normalized(parent_); !fs::exists(p, ec); p = p.parent_path()) {
    missing = p;
    if (p == p.parent_path()) break;
  }
  fs::create_directories(parent_, ec);
  if (ec) throw Error(parent_ + ": cannot create the output directory: " + ec.message());
  if (!fs::is_directory(parent_)) throw Error(parent_ + ": not a directory");
  created_root_ = missing.string();
  report_partial_dirs(parent_);
  if (::access(parent_.c_str(), W_OK) != 0)
    throw Error(parent_ + ": output directory is not writable: " + std::strerror(errno));
  dir_ = (fs::path(parent_) / cat(".", name, ".partial-", ::getpid())).string();
  fs::remove_all(dir_, ec);  // a leftover of this very process id: never a live writer's
  if (!fs::create_directory(dir_, ec) || ec)
    throw Error(dir_ + ": cannot create the staging directory: " + (ec ? ec.message() : std::string("already exists")));
}

StagedDir::~StagedDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec) log_warn(dir_ + ": could not remove the unfinished output: " + ec.message());
  // Remove the directories the constructor created, innermost first, while they are empty.
  if (created_root_.empty()) return;
  for (fs::path p = normalized(parent_); p.string().size() >= created_root_.size(); p = p.parent_path()) {
    if (!fs::is_empty(p, ec) || ec || !fs::remove(p, ec)) break;
    if (p == p.parent_path()) break;
  }
}

void StagedDir::commit() {
  if (committed_) throw Error(target_ + ": already committed");
  fsync_tree(dir_);
  if (fs::is_directory(target_)) {
    if (::renameat2(AT_FDCWD, dir_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) == 0) {
      committed_ = true;
      fsync_directory(parent_);
      std::error_code ec;
      fs::remove_all(dir_, ec);  // now the previous version
      if (ec) log_warn(dir_ + ": could not remove the replaced directory: " + ec.message());
      return;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
      throw Error(target_ + ": cannot replace it with the new version: " + std::strerror(errno));
    // The filesystem cannot exchange: move the old version aside first (it stays complete there).
    std::string old = cat(fs::path(parent_) / ("." + fs::path(target_).filename().string()), ".old-", ::getpid());
    if (std::rename(target_.c_str(), old.c_str()) != 0)
      throw Error(target_ + ": cannot move the previous version aside: " + std::strerror(errno));
    if (std::rename(dir_.c_str(), target_.c_str()) != 0) {
      int err = errno;
      std::rename(old.c_str(), target_.c_str());
      throw Error(target_ + ": cannot rename the new version into place: " + std::strerror(err));
    }
    committed_ = true;
    fsync_directory(parent_);
    std::error_code ec;
    fs::remove_all(old, ec);
    return;
  }
  if (fs::exists(target_)) throw Error(target_ + ": exists and is not a directory");
  if (std::rename(dir_.c_str(), target_.c_str()) != 0)
    throw Error(target_ + ": cannot rename the staging directory into place: " + std::strerror(errno));
  committed_ = true;
  fsync_directory(parent_);
}

}  // namespace omnitune
