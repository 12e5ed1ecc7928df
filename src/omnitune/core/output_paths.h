// core/output_paths: an output never overwrites an input. Before a command writes, it names its output and
// inputs; both are resolved to real paths (symlinks, "..", relative parts) and the command stops when the
// output is an input, holds one (a directory that would be replaced or filled) or lies inside one.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace omnitune {

struct NamedPath {
  std::string flag;  // "--hf-dir"
  std::string path;
};

// Error "<flag> <path> is the input <flag> ... / contains the input ... / lies inside the input ...".
// Empty paths are skipped.
void check_output_is_not_input(const NamedPath& output, const std::vector<NamedPath>& inputs);

}  // namespace omnitune
