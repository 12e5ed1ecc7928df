// core/files: reading a file a user named, safely: it must be a regular file (a FIFO or a device would
// block or never end, a directory is a mistake), and errors name the path.
#pragma once

#include <string>

namespace omnitune {

// Error "<path>: no such file" / "<path>: is a directory" / "<path>: not a regular file (a FIFO, socket or
// device)"; `what` ("config file", "dataset file", ...) prefixes the message when given.
void require_regular_file(const std::string& path, const std::string& what = "");

// The whole content of a regular file.
std::string read_text_file(const std::string& path, const std::string& what = "");

}  // namespace omnitune
