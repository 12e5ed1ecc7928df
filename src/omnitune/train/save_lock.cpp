#include "omnitune/train/save_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"

namespace omnitune {

namespace {

std::string read_all(int fd) {
  std::string text;
  char buf[512];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string host_name() {
  char name[256] = {0};
  return ::gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "?";
}

}  // namespace

SaveDirLock::SaveDirLock(const std::string& save, const std::string& command)
    : path_((std::filesystem::path(save) / ".omnitune.lock").string()) {
  std::error_code ec;
  std::filesystem::create_directories(save, ec);
  if (ec) throw Error(cat("--save ", save, ": cannot create the directory: ", ec.message()));
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(cat("--save ", save, ": cannot create ", path_, ": ", std::strerror(errno)));
  const std::string previous = read_all(fd_);
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw Error(cat("--save ", save, " is in use by another run (", previous.empty() ? "holder unknown" : previous,
                      "); two runs would interleave their checkpoints and metrics: wait for it, stop it, or choose "
                      "another --save"));
    throw Error(cat("--save ", save, ": cannot lock ", path_, ": ", std::strerror(err)));
  }
  if (!previous.empty())
    log_warn(cat(path_, ": a stale lock of a run that ended without releasing it (", previous, "); taking it over"));
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  const std::string holder = cat("pid ", ::getpid(), " on ", host_name(), " since ", when, ": ", command, "\n");
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size()))
    throw Error(cat(path_, ": cannot write the lock holder: ", std::strerror(errno)));
}

SaveDirLock::~SaveDirLock() {
  if (fd_ < 0) return;
  // Emptied before the unlock: an empty lock file is a clean end, a non-empty unlocked one a stale lock.
  if (::ftruncate(fd_, 0) != 0) log_warn(cat(path_, ": cannot clear the lock: ", std::strerror(errno)));
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace omnitune
