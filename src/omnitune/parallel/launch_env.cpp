#include "omnitune/parallel/launch_env.h"

#include <cstdlib>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

bool has(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  return v != nullptr && *v != '\0';
}

int64_t integer(const EnvLookup& env, const char* name, int64_t min, int64_t max) {
  const char* v = env(name);
  if (v == nullptr || *v == '\0') throw Error(cat("the environment variable ", name, " is not set"));
  const std::string text = v;
  if (text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    throw Error(cat("the environment variable ", name, "='", text, "' is not a whole number"));
  const int64_t value = std::stoll(text);
  if (value < min || value > max)
    throw Error(cat("the environment variable ", name, "=", value, " is outside [", min, ", ", max, "]"));
  return value;
}

int64_t integer_or(const EnvLookup& env, const char* name, int64_t fallback, int64_t min, int64_t max) {
  return has(env, name) ? integer(env, name, min, max) : fallback;
}

// Slurm's SLURM_STEP_TASKS_PER_NODE / SLURM_TASKS_PER_NODE: "8(x2)" or "8,8": the first count.
int64_t first_count(const std::string& text) {
  size_t end = 0;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  if (end == 0 || end > 9) return 0;
  return std::stoll(text.substr(0, end));
}

void check_ranks(const LaunchEnv& e, const std::string& names) {
  if (e.rank >= e.world_size) throw Error(cat(names, ": rank ", e.rank, " is not below the world size ", e.world_size));
  if (e.local_rank >= e.local_world_size)
    throw Error(cat(names, ": local rank ", e.local_rank, " is not below the local world size ", e.local_world_size));
  if (e.local_world_size > e.world_size)
    throw Error(cat(names, ": ", e.local_world_size, " ranks a node but only ", e.world_size, " in all"));
}

void read_master(LaunchEnv& e, const EnvLookup& env, const std::string& fallback_addr, int64_t fallback_port) {
  e.master_addr = has(env, "MASTER_ADDR") ? env("MASTER_ADDR") : fallback_addr;
  e.master_port = integer_or(env, "MASTER_PORT", fallback_port, 1, 65535);
}

LaunchEnv torchrun(const EnvLookup& env) {
  LaunchEnv e;
  e.launcher = "torchrun";
  e.world_size = integer(env, "WORLD_SIZE", 1, 1 << 20);
  e.rank = integer(env, "RANK", 0, 1 << 20);
  e.local_rank = integer_or(env, "LOCAL_RANK", e.world_size == 1 ? 0 : -1, 0, 1 << 20);
  if (e.local_rank < 0) throw Error("the environment variable LOCAL_RANK is not set (RANK and WORLD_SIZE are)");
  e.local_world_size = integer_or(env, "LOCAL_WORLD_SIZE", e.world_size, 1, 1 << 20);
  if (e.world_size > 1 && !has(env, "MASTER_ADDR"))
    throw Error("the environment variable MASTER_ADDR is not set (WORLD_SIZE > 1 needs the rendezvous host)");
  read_master(e, env, "127.0.0.1", 29500);
  if (e.world_size > 1 && !has(env, "MASTER_PORT"))
    throw Error("the environment variable MASTER_PORT is not set (WORLD_SIZE > 1 needs the rendezvous port)");
  const char* agent = env("TORCHELASTIC_USE_AGENT_STORE");
  e.agent_store =
      agent != nullptr && (std::string(agent) == "True" || std::string(agent) == "true" || std::string(agent) == "1");
  if (e.agent_store)
    e.store_prefix = cat("/worker/attempt_", integer_or(env, "TORCHELASTIC_RESTART_COUNT", 0, 0, 1 << 20));
  check_ranks(e, "RANK/WORLD_SIZE/LOCAL_RANK/LOCAL_WORLD_SIZE");
  return e;
}

// The three numbers every launcher sets, under its own names.
LaunchEnv ranks_from(const EnvLookup& env, const char* launcher, const char* world, const char* rank,
                     const char* local) {
  LaunchEnv e;
  e.launcher = launcher;
  e.world_size = integer(env, world, 1, 1 << 20);
  e.rank = integer(env, rank, 0, 1 << 20);
  e.local_rank = integer(env, local, 0, 1 << 20);
  return e;
}

LaunchEnv slurm(const EnvLookup& env) {
  LaunchEnv e = ranks_from(env, "slurm", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID");
  const char* per_node = has(env, "SLURM_STEP_TASKS_PER_NODE") ? env("SLURM_STEP_TASKS_PER_NODE")
                         : has(env, "SLURM_TASKS_PER_NODE")    ? env("SLURM_TASKS_PER_NODE")
                                                               : nullptr;
  e.local_world_size = per_node ? first_count(per_node) : e.world_size;
  if (e.local_world_size <= 0)
    throw Error(cat("the environment variable SLURM_STEP_TASKS_PER_NODE='", per_node, "' gives no task count"));
  const char* nodes = has(env, "SLURM_STEP_NODELIST") ? env("SLURM_STEP_NODELIST") : env("SLURM_JOB_NODELIST");
  const std::string host = nodes ? first_slurm_host(nodes) : "";
  if (host.empty() && !has(env, "MASTER_ADDR"))
    throw Error("neither MASTER_ADDR nor SLURM_STEP_NODELIST / SLURM_JOB_NODELIST names the rendezvous host");
  // A port derived from the job id, so two jobs sharing a node do not collide (MASTER_PORT wins).
  const int64_t job = integer_or(env, "SLURM_JOB_ID", 0, 0, INT64_MAX / 2);
  read_master(e, env, host, 20000 + job % 10000);
  check_ranks(e, "SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID");
  return e;
}

LaunchEnv mpirun(const EnvLookup& env) {
  LaunchEnv e = ranks_from(env, "mpirun", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK");
  e.local_world_size = integer(env, "OMPI_COMM_WORLD_LOCAL_SIZE", 1, 1 << 20);
  if (e.local_world_size < e.world_size && !has(env, "MASTER_ADDR"))
    throw Error("mpirun across nodes: set MASTER_ADDR to the host of rank 0 (mpirun -x MASTER_ADDR=...)");
  read_master(e, env, "127.0.0.1", 29500);
  check_ranks(e, "OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK/LOCAL_SIZE");
  return e;
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  const size_t bracket = nodelist.find('['), comma = nodelist.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) return nodelist.substr(0, comma);
  const std::string prefix = nodelist.substr(0, bracket);
  const size_t end = nodelist.find_first_of(",-]", bracket + 1);
  if (end == std::string::npos) return "";
  return prefix + nodelist.substr(bracket + 1, end - bracket - 1);
}

LaunchEnv read_launch_env(const EnvLookup& env) {
  if (has(env, "RANK") || has(env, "WORLD_SIZE")) return torchrun(env);
  if (has(env, "SLURM_STEP_ID") && has(env, "SLURM_PROCID")) return slurm(env);
  if (has(env, "OMPI_COMM_WORLD_RANK")) return mpirun(env);
  return LaunchEnv{};
}

LaunchEnv read_launch_env() {
  return read_launch_env([](const char* name) { return std::getenv(name); });
}

}  // namespace omnitune
