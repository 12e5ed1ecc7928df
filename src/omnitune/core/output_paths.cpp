#include "omnitune/core/output_paths.h"

#include <filesystem>

#include "omnitune/core/error.h"

namespace fs = std::filesystem;

namespace omnitune {

namespace {

// The real path: symlinks of the existing part resolved, the rest normalised.
fs::path real(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) p = fs::absolute(path).lexically_normal();
  return p.has_filename() ? p : p.parent_path();
}

bool is_within(const fs::path& inner, const fs::path& outer) {  // inner == outer or below it
  auto i = inner.begin(), o = outer.begin();
  for (; o != outer.end(); ++o, ++i)
    if (i == inner.end() || *i != *o) return false;
  return true;
}

}  // namespace

void check_output_is_not_input(const NamedPath& output, const std::vector<NamedPath>& inputs) {
  if (output.path.empty()) return;
  const fs::path out = real(output.path);
  for (const NamedPath& input : inputs) {
    if (input.path.empty()) continue;
    const fs::path in = real(input.path);
    const std::string what = cat(output.flag, " ", output.path);
    const std::string other = cat(" the input ", input.flag, " ", input.path);
    if (out == in)
      throw Error(cat(what, " is", other, " (the same path once links are resolved); choose another output"));
    if (is_within(in, out))
      throw Error(cat(what, " contains", other, "; writing there could replace it: choose another output"));
    if (is_within(out, in))
      throw Error(cat(what, " lies inside", other, "; writing there would change it: choose another output"));
  }
}

}  // namespace omnitune
