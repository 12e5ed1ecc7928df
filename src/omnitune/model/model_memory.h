// model/model_memory: what the thinker a config describes will take, known before anything is allocated, so
// that absurd sizes in a config.json are an error naming the file instead of a failed multi-terabyte allocation.
#pragma once

#include <cstdint>
#include <string>

#include "omnitune/model/config.h"

namespace omnitune {

// Parameters of the thinker, counted on the meta device (no memory). Error naming `source` when the sizes
// are too large to even describe (an element count past 2^63).
int64_t thinker_parameter_count(const ThinkerConfig& config, const std::string& source);

// Error naming `source` when bytes_per_parameter x the parameter count exceeds this machine's memory.
void check_thinker_fits_in_memory(const ThinkerConfig& config, const std::string& source,
                                  int64_t bytes_per_parameter = 4);

}  // namespace omnitune
