#include "omnitune/model/model_memory.h"

#include <unistd.h>

#include <c10/util/Exception.h>

#include "omnitune/core/error.h"
#include "omnitune/model/param_init.h"
#include "omnitune/model/thinker.h"

namespace omnitune {

int64_t thinker_parameter_count(const ThinkerConfig& config, const std::string& source) {
  try {
    MetaInit meta;
    Thinker thinker(config);
    int64_t total = 0;
    for (const auto& p : thinker->parameters()) {
      if (p.numel() > INT64_MAX - total) throw Error("more than 2^63 parameters");
      total += p.numel();
    }
    return total;
  } catch (const c10::Error& e) {
    throw Error(cat(source, ": the model's sizes are too large to build (", e.what_without_backtrace(), ")"));
  } catch (const Error& e) {
    throw Error(cat(source, ": the model's sizes are too large to build (", e.what(), ")"));
  }
}

void check_thinker_fits_in_memory(const ThinkerConfig& config, const std::string& source, int64_t bytes_per_parameter) {
  const int64_t params = thinker_parameter_count(config, source);
  const double need = static_cast<double>(params) * static_cast<double>(bytes_per_parameter);
  const double have = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  if (have > 0 && need > have)
    throw Error(cat(source, ": the thinker it describes has ", params, " parameters, ", need / 1e9, " GB at ",
                    bytes_per_parameter, " bytes each, more than this machine's ", have / 1e9, " GB of memory"));
}

}  // namespace omnitune
