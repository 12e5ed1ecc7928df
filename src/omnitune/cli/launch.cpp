// omnitune launch: torchrun's flags (with `-` or `_`) -> LaunchPlan -> this node's ranks, each running
// `omnitune <command...>` (the command after `--`).
#include <CLI/CLI.hpp>

#include "omnitune/cli/commands.h"
#include "omnitune/cli/flag_checks.h"
#include "omnitune/parallel/rank_launcher.h"

namespace omnitune {

Subcommand register_launch(CLI::App& app) {
  auto plan = std::make_shared<LaunchPlan>();
  auto command = std::make_shared<std::vector<std::string>>();
  CLI::App* sub = app.add_subcommand(
      "launch", "Start this node's ranks of a job (as torchrun does): omnitune launch --nproc-per-node 8 -- train ...");
  sub->add_option("--nproc-per-node,--nproc_per_node", plan->nproc_per_node, "Ranks on this node")
      ->required()
      ->check(integer_in(1, 4096));
  sub->add_option("--nnodes", plan->nnodes, "Nodes in the job")->capture_default_str()->check(integer_in(1, 65536));
  sub->add_option("--node-rank,--node_rank", plan->node_rank, "This node's index (0 = the one at --master-addr)")
      ->capture_default_str()
      ->check(integer_in(0, 65535));
  sub->add_option("--master-addr,--master_addr", plan->master_addr, "Host of node 0 (the rendezvous store)")
      ->capture_default_str();
  sub->add_option("--master-port,--master_port", plan->master_port, "Port of the rendezvous store on node 0")
      ->capture_default_str()
      ->check(integer_in(1, 65535));
  sub->add_option("command", *command, "The omnitune command each rank runs, after --: train ...")->required();
  return {sub, [plan, command] {
            plan->program = "/proc/self/exe";
            plan->args = *command;
            return launch_ranks(*plan);
          }};
}

}  // namespace omnitune
