#include <ATen/Context.h>
#include <torch/version.h>

#include "omnitune/cli/commands.h"
#include "omnitune/core/error.h"

namespace omnitune {

std::string version_text() {
  bool cuda = at::hasCUDA();
  return cat("omnitune 0.1.0 (git ", git_revision(), ")\n", "libtorch ", TORCH_VERSION, "\n",
             "CUDA available: ", cuda ? "yes" : "no", cuda ? cat(" (", at::getNumGPUs(), " device(s))") : std::string(),
             "\n");
}

}  // namespace omnitune
