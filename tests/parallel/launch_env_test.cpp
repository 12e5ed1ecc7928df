#include "omnitune/parallel/launch_env.h"

#include <gtest/gtest.h>

#include <map>

#include "omnitune/core/error.h"

namespace omnitune {
namespace {

LaunchEnv read(const std::map<std::string, std::string>& vars) {
  return read_launch_env([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(const std::map<std::string, std::string>& vars) {
  try {
    read(vars);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LaunchEnv, NothingSetIsOneProcess) {
  LaunchEnv e = read({});
  EXPECT_EQ(e.launcher, "none");
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.rank, 0);
}

TEST(LaunchEnv, Torchrun) {
  LaunchEnv e = read({{"RANK", "5"},
                      {"WORLD_SIZE", "16"},
                      {"LOCAL_RANK", "5"},
                      {"LOCAL_WORLD_SIZE", "8"},
                      {"MASTER_ADDR", "node0"},
                      {"MASTER_PORT", "6000"}});
  EXPECT_EQ(e.launcher, "torchrun");
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world_size, 16);
  EXPECT_EQ(e.local_rank, 5);
  EXPECT_EQ(e.local_world_size, 8);
  EXPECT_EQ(e.node_rank(), 0);
  EXPECT_EQ(e.master_addr, "node0");
  EXPECT_EQ(e.master_port, 6000);
  EXPECT_FALSE(e.agent_store);
}

TEST(LaunchEnv, TorchrunAgentStoreJoinsAsClientUnderTheAttemptPrefix) {
  LaunchEnv e = read({{"RANK", "0"},
                      {"WORLD_SIZE", "2"},
                      {"LOCAL_RANK", "0"},
                      {"MASTER_ADDR", "127.0.0.1"},
                      {"MASTER_PORT", "29500"},
                      {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                      {"TORCHELASTIC_RESTART_COUNT", "2"}});
  EXPECT_TRUE(e.agent_store);
  EXPECT_EQ(e.store_prefix, "/worker/attempt_2");
}

TEST(LaunchEnv, TorchrunErrorsNameTheVariable) {
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"MASTER_PORT", "1"}})
                .find("MASTER_ADDR is not set"),
            std::string::npos);
  EXPECT_NE(
      error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}})
          .find("rank 2 is not below the world size 2"),
      std::string::npos);
  EXPECT_NE(error_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK='x' is not a whole number"), std::string::npos);
  EXPECT_NE(
      error_of(
          {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "70000"}})
          .find("MASTER_PORT=70000 is outside"),
      std::string::npos);
}

TEST(LaunchEnv, SlurmStepTakesTheFirstHostAndAJobPort) {
  LaunchEnv e = read({{"SLURM_STEP_ID", "0"},
                      {"SLURM_PROCID", "9"},
                      {"SLURM_NTASKS", "16"},
                      {"SLURM_LOCALID", "1"},
                      {"SLURM_STEP_TASKS_PER_NODE", "8(x2)"},
                      {"SLURM_STEP_NODELIST", "gpu[07-08]"},
                      {"SLURM_JOB_ID", "123456"}});
  EXPECT_EQ(e.launcher, "slurm");
  EXPECT_EQ(e.rank, 9);
  EXPECT_EQ(e.local_world_size, 8);
  EXPECT_EQ(e.node_rank(), 1);
  EXPECT_EQ(e.master_addr, "gpu07");
  EXPECT_EQ(e.master_port, 23456);
  // An allocation without srun (SLURM_STEP_ID unset) is not a job of ranks.
  EXPECT_EQ(read({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}}).world_size, 1);
}

TEST(LaunchEnv, SlurmHostLists) {
  EXPECT_EQ(first_slurm_host("node[01-03,07],other"), "node01");
  EXPECT_EQ(first_slurm_host("a,b[1-2]"), "a");
  EXPECT_EQ(first_slurm_host("single"), "single");
  EXPECT_EQ(first_slurm_host("n[5]"), "n5");
}

TEST(LaunchEnv, OpenMpi) {
  LaunchEnv e = read({{"OMPI_COMM_WORLD_RANK", "3"},
                      {"OMPI_COMM_WORLD_SIZE", "4"},
                      {"OMPI_COMM_WORLD_LOCAL_RANK", "3"},
                      {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}});
  EXPECT_EQ(e.launcher, "mpirun");
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.master_addr, "127.0.0.1");
  EXPECT_NE(error_of({{"OMPI_COMM_WORLD_RANK", "3"},
                      {"OMPI_COMM_WORLD_SIZE", "8"},
                      {"OMPI_COMM_WORLD_LOCAL_RANK", "3"},
                      {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}})
                .find("set MASTER_ADDR"),
            std::string::npos);
}

}  // namespace
}  // namespace omnitune
