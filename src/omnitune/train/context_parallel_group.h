// train/context_parallel_group: the model's context-parallel collectives (model/context_parallel.h) over a
// c10d group of the job. The groups are consecutive ranks — rank / CP is the data-parallel rank — as the
// seed's mesh puts Ulysses innermost; they lie inside the FSDP shard groups.
#pragma once

#include <memory>

#include "omnitune/model/context_parallel.h"
#include "omnitune/parallel/process_group.h"

namespace omnitune {

// The group of `cp` ranks that `job`'s rank belongs to (every rank of the job calls it).
std::shared_ptr<ContextParallelComm> context_parallel_group(ProcessGroup& job, int64_t cp);

}  // namespace omnitune
