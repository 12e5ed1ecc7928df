#include "omnitune/parallel/rank_launcher.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <thread>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

volatile std::sig_atomic_t g_signal = 0;
void remember_signal(int sig) { g_signal = sig; }

struct Rank {
  int64_t rank = 0;
  pid_t pid = -1;
  int out = -1, err = -1;          // read ends of its stdout and stderr pipes
  std::string out_line, err_line;  // a line not yet ended
  bool done = false;
  int status = 0;
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return cat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return cat("signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)), ")");
  return "an unknown status";
}

pid_t spawn(const LaunchPlan& plan, int64_t local_rank, int out[2], int err[2]) {
  const pid_t pid = fork();
  if (pid < 0) throw Error(cat("omnitune launch: fork failed: ", std::strerror(errno)));
  if (pid > 0) return pid;
  // The child: dies with the launcher; its output goes to the pipes; torchrun's environment.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  dup2(out[1], 1), dup2(err[1], 2);
  close(out[0]), close(out[1]), close(err[0]), close(err[1]);
  const int64_t world = plan.nproc_per_node * plan.nnodes;
  const int64_t rank = plan.node_rank * plan.nproc_per_node + local_rank;
  setenv("RANK", std::to_string(rank).c_str(), 1);
  setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
  setenv("LOCAL_RANK", std::to_string(local_rank).c_str(), 1);
  setenv("LOCAL_WORLD_SIZE", std::to_string(plan.nproc_per_node).c_str(), 1);
  setenv("GROUP_RANK", std::to_string(plan.node_rank).c_str(), 1);
  setenv("MASTER_ADDR", plan.master_addr.c_str(), 1);
  setenv("MASTER_PORT", std::to_string(plan.master_port).c_str(), 1);
  setenv("OMNITUNE_LAUNCHED", "1", 1);  // the launcher names the ranks: no "[rank R]" of their own
  unsetenv("TORCHELASTIC_USE_AGENT_STORE");
  // torchrun's rule: several ranks a node share the cores unless told otherwise.
  if (plan.nproc_per_node > 1 && std::getenv("OMP_NUM_THREADS") == nullptr) {
    const int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
    setenv("OMP_NUM_THREADS", std::to_string(std::max<int64_t>(1, cores / plan.nproc_per_node)).c_str(), 1);
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(plan.program.c_str()));
  for (const auto& a : plan.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(plan.program.c_str(), argv.data());
  std::cerr << "error: omnitune launch: cannot run " << plan.program << ": " << std::strerror(errno) << "\n";
  _exit(127);
}

// Writes the complete lines read from `fd` with the rank's prefix; false at end of file.
bool pump(int fd, std::string& pending, int64_t rank, std::ostream& to) {
  char buffer[65536];
  const ssize_t n = read(fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    if (!pending.empty()) to << (rank ? cat("[rank ", rank, "] ") : "") << pending << "\n" << std::flush;
    pending.clear();
    return false;
  }
  pending.append(buffer, static_cast<size_t>(n));
  size_t start = 0, end;
  std::string lines;
  while ((end = pending.find('\n', start)) != std::string::npos) {
    lines += (rank ? cat("[rank ", rank, "] ") : "") + pending.substr(start, end - start + 1);
    start = end + 1;
  }
  pending.erase(0, start);
  to << lines << std::flush;
  return true;
}

void signal_all(std::vector<Rank>& ranks, int sig) {
  for (auto& r : ranks)
    if (!r.done) kill(r.pid, sig);
}

}  // namespace

int launch_ranks(const LaunchPlan& plan) {
  if (plan.node_rank >= plan.nnodes)
    throw Error(cat("--node-rank ", plan.node_rank, " is not below --nnodes ", plan.nnodes));
  if (plan.args.empty()) throw Error("omnitune launch: no command to run (omnitune launch [options] -- train ...)");
  struct sigaction action {};
  action.sa_handler = remember_signal;
  sigaction(SIGINT, &action, nullptr), sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<Rank> ranks(static_cast<size_t>(plan.nproc_per_node));
  for (int64_t local = 0; local < plan.nproc_per_node; ++local) {
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) throw Error(cat("omnitune launch: pipe failed: ", std::strerror(errno)));
    Rank& r = ranks[static_cast<size_t>(local)];
    r.rank = plan.node_rank * plan.nproc_per_node + local;
    r.pid = spawn(plan, local, out, err);
    close(out[1]), close(err[1]);
    r.out = out[0], r.err = err[0];
  }

  using Clock = std::chrono::steady_clock;
  std::string failure;
  Clock::time_point failed_at{}, terminated_at{};
  int forwarded = 0;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<std::pair<Rank*, bool>> owners;  // (rank, is stderr)
    for (auto& r : ranks) {
      if (r.out >= 0) fds.push_back({r.out, POLLIN, 0}), owners.emplace_back(&r, false);
      if (r.err >= 0) fds.push_back({r.err, POLLIN, 0}), owners.emplace_back(&r, true);
    }
    if (!fds.empty())
      poll(fds.data(), fds.size(), 200);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (size_t k = 0; k < fds.size(); ++k) {
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto [r, is_err] = owners[k];
      int& fd = is_err ? r->err : r->out;
      if (!pump(fd, is_err ? r->err_line : r->out_line, r->rank, is_err ? std::cerr : std::cout)) close(fd), fd = -1;
    }
    if (g_signal != 0 && forwarded != g_signal) {  // the user's Ctrl-C or a scheduler's SIGTERM
      forwarded = g_signal;
      signal_all(ranks, g_signal);
      terminated_at = Clock::now();
    }
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (auto& r : ranks) {
        if (r.pid != pid) continue;
        r.done = true, r.status = status;
        if (failure.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && g_signal == 0) {
          failure = cat("rank ", r.rank, " (pid ", pid, ") failed with ", describe_status(status));
          failed_at = Clock::now();
        }
      }
    }
    bool all_done = true, output_open = false;
    for (const auto& r : ranks) all_done = all_done && r.done, output_open = output_open || r.out >= 0 || r.err >= 0;
    if (all_done && !output_open) break;
    // After a failure the others get 20 s to notice it and say so themselves (a rank that stopped answering
    // takes the heartbeat watch up to 12 s at a 1-minute timeout), then SIGTERM; 10 s after a SIGTERM (or a
    // forwarded signal), SIGKILL.
    if (!all_done) {
      const auto now = Clock::now();
      if (!failure.empty() && terminated_at == Clock::time_point{} && now - failed_at > std::chrono::seconds(20)) {
        signal_all(ranks, SIGTERM);
        terminated_at = now;
      } else if (terminated_at != Clock::time_point{} && now - terminated_at > std::chrono::seconds(10)) {
        signal_all(ranks, SIGKILL);
      }
    }
  }
  if (g_signal != 0) {
    std::cerr << "omnitune launch: stopped by signal " << g_signal << " (" << strsignal(g_signal) << ")\n";
    return 128 + g_signal;
  }
  if (!failure.empty()) {
    std::cerr << "error: omnitune launch: " << failure << "; the other ranks were stopped\n";
    return 1;
  }
  return 0;
}

}  // namespace omnitune
