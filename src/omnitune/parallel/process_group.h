// parallel/process_group: the job's ranks joined through c10d — the TCPStore rendezvous (served by rank 0, or by
// torchrun's agent), a ProcessGroupGloo over all ranks and, with the NCCL backend, a ProcessGroupNCCL on each
// rank's GPU — with the few collectives the trainer issues. A collective goes over NCCL when its tensor is on the
// GPU of an NCCL job, else over Gloo (barriers and small host values always). A failed collective never hangs
// and never ends in a stack trace: the rank logs which peer it lost (from the heartbeats every rank writes to
// the store) and exits with status 1. A rank whose heartbeat stands still for lost_after(timeout) makes every
// rank exit so too, whatever collective they wait in.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "omnitune/parallel/launch_env.h"

namespace omnitune {

enum class DistBackend { kGloo, kNccl };
DistBackend parse_dist_backend(const std::string& text);  // gloo | nccl, else Error

struct JoinOptions {
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};  // rendezvous and each collective
  DistBackend backend = DistBackend::kGloo;
  at::Device device = at::kCPU;  // where this rank computes: NCCL needs cuda:LOCAL_RANK
};

class Subgroup;

class ProcessGroup {
 public:
  // Joins the job `env` describes (any world size: one rank too). Error when the rendezvous fails within the
  // timeout, or for NCCL on a rank that does not compute on a GPU.
  ProcessGroup(const LaunchEnv& env, const JoinOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const { return rank_; }
  int64_t world() const { return world_; }
  // Where the large buffers of a collective live: this rank's GPU with NCCL, the host with Gloo.
  at::Device device() const { return device_; }

  // How long a rank's heartbeat may stand still before it is lost: timeout / 6, within [5 s, 60 s].
  static std::chrono::milliseconds lost_after(std::chrono::milliseconds timeout);
  // This rank issues no more collectives after this barrier: its heartbeat may stop (every rank calls it last).
  void leave(const std::string& what);

  // In place over every rank; `what` names the step in the message of a failure. One contiguous tensor on the
  // host or on device() (several are flattened by the caller: c10d reads a list as one tensor per local device).
  void all_reduce_sum(at::Tensor& tensor, const std::string& what);
  void all_reduce_max(at::Tensor& tensor, const std::string& what);
  void barrier(const std::string& what);
  // Every rank's `value` under `key`, in rank order (through the store; small values only).
  std::vector<std::string> exchange(const std::string& key, const std::string& value);

  // A group of `members` (global ranks in increasing order, this rank among them; Gloo, and NCCL in an NCCL
  // job) for the parameter sharding's collectives. Every member calls it with the same `name` (unique in the
  // job) at the same point.
  std::unique_ptr<Subgroup> subgroup(const std::string& name, const std::vector<int64_t>& members);

 private:
  friend class Subgroup;
  friend class PendingCollective;
  void all_reduce(at::Tensor& tensor, bool max, const std::string& what);
  [[noreturn]] void fail(const std::string& what, const std::exception& error);
  [[noreturn]] void exit_lost(const std::string& message);  // takes the exit lock first
  [[noreturn]] void exit_with(const std::string& message);  // the exit lock held: print, exit 1

  struct Links;  // the store, the Gloo group and the heartbeat (c10d types stay out of this header)
  int64_t rank_ = 0, world_ = 1, exchanges_ = 0;
  std::chrono::milliseconds timeout_;
  at::Device device_;
  std::unique_ptr<Links> links_;
};

// A collective started on a Subgroup: finished (its output written) by wait(); a failure ends the process as
// ProcessGroup's collectives do.
class PendingCollective {
 public:
  PendingCollective() = default;  // nothing to wait for
  PendingCollective(std::shared_ptr<void> work, ProcessGroup* owner, std::string what);
  bool done() const;  // finished (never blocks)
  void wait();

 private:
  std::shared_ptr<void> work_;  // c10d::Work, kept out of this header
  ProcessGroup* owner_ = nullptr;
  std::string what_;
};

class Subgroup {
 public:
  ~Subgroup();
  int64_t rank() const { return rank_; }  // within the group
  int64_t size() const { return size_; }
  at::Device device() const { return owner_->device(); }  // as ProcessGroup::device()
  // out [size * n] <- every member's in [n], in member order. Both contiguous tensors of one dtype on device(),
  // kept alive by the caller until wait().
  PendingCollective all_gather(at::Tensor& out, at::Tensor& in, const std::string& what);
  // out [n] <- the sum over the members of their in[rank * n, (rank + 1) * n); in [size * n].
  PendingCollective reduce_scatter(at::Tensor& out, at::Tensor& in, const std::string& what);
  // In place, blocking.
  void all_reduce_sum(at::Tensor& tensor, const std::string& what);
  // out[r] <- member r's in[rank()] for in, out [size, ...] contiguous tensors of one shape on device(); blocking.
  void all_to_all(at::Tensor& out, at::Tensor& in, const std::string& what);

 private:
  friend class ProcessGroup;
  Subgroup() = default;
  struct Group;
  ProcessGroup* owner_ = nullptr;
  int64_t rank_ = 0, size_ = 1;
  std::unique_ptr<Group> group_;
};

}  // namespace omnitune
