// parallel/launch_env: which job this process belongs to, read from the environment the common launchers
// set — torchrun (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, and
// TORCHELASTIC_USE_AGENT_STORE when torchrun already serves the store), Slurm's srun (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID, the first host of the node list) and Open MPI's mpirun
// (OMPI_COMM_WORLD_*). Nothing set: one process. No libtorch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace omnitune {

struct LaunchEnv {
  std::string launcher = "none";  // torchrun | slurm | mpirun | none
  int64_t rank = 0, world_size = 1, local_rank = 0, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  bool agent_store = false;  // the store is served by torchrun's agent: join it as a client
  std::string store_prefix;  // torchrun's "/worker/attempt_<restart count>" with the agent store
  int64_t node_rank() const { return rank / local_world_size; }
};

using EnvLookup = std::function<const char*(const char*)>;

// Error naming the variable that is missing or out of range.
LaunchEnv read_launch_env(const EnvLookup& env);
LaunchEnv read_launch_env();  // from this process's environment

// "node[01-03,07],other" -> "node01" (Slurm's compressed host lists).
std::string first_slurm_host(const std::string& nodelist);

}  // namespace omnitune
