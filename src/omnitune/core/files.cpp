#include "omnitune/core/files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "omnitune/core/error.h"

namespace omnitune {

void require_regular_file(const std::string& path, const std::string& what) {
  const std::string label = what.empty() ? path : what + " " + path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error(label + (errno == ENOENT ? ": no such file" : std::string(": cannot read: ") + std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw Error(label + ": is a directory, not a file");
  if (!S_ISREG(st.st_mode)) throw Error(label + ": not a regular file (a FIFO, socket or device); give a file");
}

std::string read_text_file(const std::string& path, const std::string& what) {
  require_regular_file(path, what);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error((what.empty() ? path : what + " " + path) + ": cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error((what.empty() ? path : what + " " + path) + ": read error");
  return text.str();
}

}  // namespace omnitune
