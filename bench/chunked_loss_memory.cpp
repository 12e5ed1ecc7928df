// bench/chunked_loss_memory: peak memory of lm_head + causal-LM loss, forward and backward, in fp32:
//   unchunked  causal_lm_loss(lm_head(hidden), labels): [S, V] logits, their log-softmax and gradients
//   chunk N    fused_causal_lm_loss(hidden, weight, labels, N): at most [N, V] at a time
// Each mode runs in its own process (this program again, with --child); the parent reads the child's peak
// RSS from wait4, then checks that every chunked loss and gradient equals the unchunked one (relative
// difference <= 1e-6). Defaults: S = 8192, H = 2048, V = 152064 (Qwen3-Omni); the unchunked run peaks
// near 16 GB.
//   chunked_loss_memory [--seq 8192] [--hidden 2048] [--vocab 152064] [--chunks 256,1024,4096] [--dir /tmp]
#include <ATen/ATen.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "omnitune/core/error.h"
#include "omnitune/model/causal_lm_loss.h"
#include "omnitune/model/fused_lm_loss.h"
#include "omnitune/model/thinker.h"

using namespace omnitune;

namespace {

struct Options {
  int64_t seq = 8192, hidden = 2048, vocab = 152064;
  std::vector<int64_t> chunks = {256, 1024, 4096};
  std::string dir = "/tmp";
  int64_t child = -1;  // the mode a child runs: 0 = unchunked, N > 0 = chunk rows
};

double resident_mb() {  // current RSS
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// Where a child leaves its loss and gradients for the parent (raw fp32).
std::string data_file(const std::string& dir, int64_t parent, int64_t mode, const char* what) {
  return dir + "/chunked_loss_" + std::to_string(parent) + "_" + std::to_string(mode) + "." + what;
}

void write_raw(const std::string& path, const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
  if (!out) throw Error("cannot write " + path);
}

at::Tensor read_raw(const std::string& path, at::IntArrayRef shape) {
  at::Tensor t = at::empty(shape, at::kFloat);
  std::ifstream in(path, std::ios::binary);
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  if (!in) throw Error("cannot read " + path);
  return t;
}

// One mode, in this process: forward + backward, then the loss and gradients to files (the parent's pid in
// the names) and "baseline_mb ms" on stdout.
void run_child(const Options& o, int64_t parent) {
  at::manual_seed(0);
  at::Tensor hidden = at::randn({1, o.seq, o.hidden}).requires_grad_(true);          // [1, S, H]
  at::Tensor weight = (at::randn({o.vocab, o.hidden}) * 0.02).requires_grad_(true);  // [V, H]
  at::Tensor labels = at::randint(o.vocab, {1, o.seq}, at::kLong);                   // [1, S]
  labels.slice(1, 0, o.seq / 8).fill_(-100);                                         // a prompt: not trained
  const double baseline = resident_mb();
  auto start = std::chrono::steady_clock::now();
  at::Tensor loss = o.child == 0 ? causal_lm_loss(at::linear(hidden, weight), labels)
                                 : fused_causal_lm_loss(hidden, weight, labels, o.child);
  loss.backward();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  write_raw(data_file(o.dir, parent, o.child, "loss"), loss.detach().reshape({1}));
  write_raw(data_file(o.dir, parent, o.child, "grad_hidden"), hidden.grad());
  write_raw(data_file(o.dir, parent, o.child, "grad_weight"), weight.grad());
  std::printf("%.1f %.1f\n", baseline, ms);
}

struct ChildResult {
  double peak_mb = 0, baseline_mb = 0, ms = 0;
};

// Runs this program with --child `mode`; its peak RSS from wait4.
ChildResult spawn(const Options& o, int64_t mode, const char* self) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw Error("pipe failed");
  std::vector<std::string> args = {self,
                                   "--seq",
                                   std::to_string(o.seq),
                                   "--hidden",
                                   std::to_string(o.hidden),
                                   "--vocab",
                                   std::to_string(o.vocab),
                                   "--dir",
                                   o.dir,
                                   "--child",
                                   std::to_string(mode),
                                   "--parent",
                                   std::to_string(getpid())};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    close(pipe_fds[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  std::string text;
  char buffer[256];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(cat("mode ", mode, ": the child process failed (status ", status, ")"));
  ChildResult r;
  r.peak_mb = static_cast<double>(usage.ru_maxrss) / 1024;  // ru_maxrss is in KiB
  if (std::sscanf(text.c_str(), "%lf %lf", &r.baseline_mb, &r.ms) != 2)
    throw Error("mode " + std::to_string(mode) + ": no report");
  return r;
}

double relative(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(b.norm().item<double>(), 1e-30);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options o;
    int64_t parent = getpid();
    for (int i = 1; i + 1 < argc; i += 2) {
      std::string flag = argv[i], value = argv[i + 1];
      if (flag == "--seq")
        o.seq = std::stoll(value);
      else if (flag == "--hidden")
        o.hidden = std::stoll(value);
      else if (flag == "--vocab")
        o.vocab = std::stoll(value);
      else if (flag == "--dir")
        o.dir = value;
      else if (flag == "--child")
        o.child = std::stoll(value);
      else if (flag == "--parent")
        parent = std::stoll(value);
      else if (flag == "--chunks") {
        o.chunks.clear();
        for (size_t start = 0; start <= value.size();) {
          size_t comma = std::min(value.find(',', start), value.size());
          o.chunks.push_back(std::stoll(value.substr(start, comma - start)));
          start = comma + 1;
        }
      } else {
        throw Error("unknown option " + flag);
      }
    }
    if (o.child >= 0) {
      run_child(o, parent);
      return 0;
    }

    std::printf("lm_head + causal-LM loss, fp32, S=%lld H=%lld V=%lld: peak RSS per mode (own process)\n",
                static_cast<long long>(o.seq), static_cast<long long>(o.hidden), static_cast<long long>(o.vocab));
    std::vector<int64_t> modes = {0};
    modes.insert(modes.end(), o.chunks.begin(), o.chunks.end());
    std::vector<ChildResult> results;
    for (int64_t mode : modes) results.push_back(spawn(o, mode, argv[0]));

    auto path = [&](int64_t mode, const char* what) { return data_file(o.dir, parent, mode, what); };
    at::Tensor ref_loss = read_raw(path(0, "loss"), {1});
    at::Tensor ref_gh = read_raw(path(0, "grad_hidden"), {o.seq, o.hidden});
    at::Tensor ref_gw = read_raw(path(0, "grad_weight"), {o.vocab, o.hidden});
    bool ok = true;
    for (size_t i = 0; i < modes.size(); ++i) {
      const ChildResult& r = results[i];
      const double ratio = r.peak_mb / results[0].peak_mb;
      const double above = (r.peak_mb - r.baseline_mb) / (results[0].peak_mb - results[0].baseline_mb);
      std::string name = modes[i] == 0 ? "unchunked" : "chunk " + std::to_string(modes[i]);
      std::printf(
          "  %-12s peak %8.0f MB (inputs %6.0f MB, above them %8.0f MB)  ratio %.3f (above inputs %.3f)  %7.0f ms",
          name.c_str(), r.peak_mb, r.baseline_mb, r.peak_mb - r.baseline_mb, ratio, above, r.ms);
      if (modes[i] != 0) {
        const double dl = relative(read_raw(path(modes[i], "loss"), {1}), ref_loss);
        const double dh = relative(read_raw(path(modes[i], "grad_hidden"), {o.seq, o.hidden}), ref_gh);
        const double dw = relative(read_raw(path(modes[i], "grad_weight"), {o.vocab, o.hidden}), ref_gw);
        ok = ok && dl <= 1e-6 && dh <= 1e-6 && dw <= 1e-6;
        std::printf("  rel diff: loss %.1e grad_hidden %.1e grad_weight %.1e", dl, dh, dw);
      }
      std::printf("\n");
      std::printf("{\"mode\": \"%s\", \"peak_mb\": %.0f, \"inputs_mb\": %.0f, \"ratio\": %.4f, \"ms\": %.0f}\n",
                  name.c_str(), r.peak_mb, r.baseline_mb, ratio, r.ms);
      for (const char* what : {"loss", "grad_hidden", "grad_weight"}) std::remove(path(modes[i], what).c_str());
    }
    if (!ok) {
      std::printf("FAILED: a chunked loss or gradient differs from the unchunked one by more than 1e-6\n");
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
