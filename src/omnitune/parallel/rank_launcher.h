// parallel/rank_launcher: `omnitune launch` — starts this node's ranks of a job as torchrun does (the same
// environment: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT), prefixes
// each line a rank prints with "[rank R] " (rank 0's lines as they are), forwards SIGINT/SIGTERM to them, and
// when one fails gives the others a moment to report it themselves, then stops them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace omnitune {

struct LaunchPlan {
  int64_t nproc_per_node = 1, nnodes = 1, node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  std::string program;            // the executable each rank runs
  std::vector<std::string> args;  // its arguments
};

// Runs the ranks to the end. 0 when every rank exited 0; else 1 after a line naming the first rank that
// failed and how (its exit status or signal). Error on a plan that cannot form a job.
int launch_ranks(const LaunchPlan& plan);

}  // namespace omnitune
