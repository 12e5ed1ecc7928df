// train/save_lock: one run at a time per --save directory. <save>/.omnitune.lock is held with flock() for the
// life of the run and names its holder (pid, host, start time, command). A second run finds it locked and
// stops with that name; a lock file whose process is gone (the kernel drops flock with the process) is
// reported as stale and taken over.
#pragma once

#include <string>

namespace omnitune {

class SaveDirLock {
 public:
  // Creates `save` if needed. Error naming the holder when another live process holds the lock.
  SaveDirLock(const std::string& save, const std::string& command);
  ~SaveDirLock();
  SaveDirLock(const SaveDirLock&) = delete;
  SaveDirLock& operator=(const SaveDirLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace omnitune
