// weights/staged_dir: a directory that appears complete or not at all. Files are written into
// <parent>/.<name>.partial-<pid>; commit() fsyncs them and renames the directory to <parent>/<name>. An
// existing <parent>/<name> is swapped out atomically (renameat2 RENAME_EXCHANGE) and then deleted, so
// at every instant one complete version is in place.
#pragma once

#include <string>
#include <vector>

namespace omnitune {

class StagedDir {
 public:
  // Creates `parent` (and missing ancestors) and the staging directory; Error when that is impossible.
  StagedDir(std::string parent, std::string name);
  ~StagedDir();  // without commit(): removes the staging directory, and `parent` if it created it and it is empty
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;

  const std::string& dir() const { return dir_; }  // write here
  void commit();

 private:
  std::string parent_, target_, dir_;
  std::string created_root_;  // the topmost directory the constructor created ("" if none)
  bool committed_ = false;
};

// ".<name>.partial-<pid>": a staging directory (also one left behind by an interrupted writer).
bool is_partial_dir_name(const std::string& filename);

// Logs each staging directory in `parent` whose writer is gone (an interrupted save or conversion), with its
// size and the command that removes it; one whose process still runs is named as in progress. Every writer
// calls it for the directory it writes into. Returns the leftovers' names.
std::vector<std::string> report_partial_dirs(const std::string& parent);

}  // namespace omnitune
