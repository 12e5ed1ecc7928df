#include "omnitune/parallel/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"

namespace omnitune {

namespace {

using StorePtr = c10::intrusive_ptr<c10d::Store>;

StorePtr connect_store(const LaunchEnv& env, bool serve, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(env.master_port);
  o.isServer = serve;
  o.numWorkers = serve ? std::optional<size_t>(env.world_size) : std::nullopt;
  o.waitWorkers = false;
  o.timeout = timeout;
  StorePtr store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  if (!env.store_prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(env.store_prefix, store);
  return store;
}

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

std::shared_ptr<gloo::transport::Device> gloo_device(const LaunchEnv& env) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost")
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

using BackendPtr = c10::intrusive_ptr<c10d::Backend>;

BackendPtr gloo_group(const StorePtr& store, const std::string& prefix, int64_t rank, int64_t size,
                      const std::shared_ptr<gloo::transport::Device>& device, std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(device);
  return c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>(prefix, store), rank, size,
                                                     options);
}

// An NCCL communicator over the group on this rank's GPU, formed now (not at the first collective) so that a
// failure to form it is a failure to join. Collectives run on the group's own CUDA stream, ordered after the
// work queued on the current stream when they start; wait() orders the current stream after them.
BackendPtr nccl_group(const StorePtr& store, const std::string& prefix, int64_t rank, int64_t size, at::Device device,
                      std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>(prefix, store), rank,
                                                           size, options);
  group->setBoundDeviceId(device);
  group->eagerConnectSingleDevice(device);
  return group;
}

// NCCL's watchdog must not end the process with its own message: on a failed or timed-out collective it only
// aborts the communicators (CleanUpOnly), and the next collective this rank issues fails through
// ProcessGroup::fail, which names the lost rank. A rank that died or stopped is named sooner by the heartbeat
// watcher (lost_after < the collective timeout).
void let_our_message_win_over_nccl() {
  setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "2", 1);
  setenv("NCCL_ASYNC_ERROR_HANDLING", "2", 1);
}

// The end of a run (every collective done): a communicator that fails to close changes nothing.
void shut_down(BackendPtr& group) {
  if (!group) return;
  try {
    group->shutdown();
  } catch (const std::exception&) {
  }
  group.reset();
}

// The backend that carries `t`: NCCL for a GPU tensor where the job has it, else Gloo (host tensors; a GPU
// tensor in a Gloo job).
c10d::Backend& carrier(const BackendPtr& gloo, const BackendPtr& nccl, const at::Tensor& t) {
  return t.is_cuda() && nccl ? *nccl : *gloo;
}

}  // namespace

DistBackend parse_dist_backend(const std::string& text) {
  if (text == "gloo") return DistBackend::kGloo;
  if (text == "nccl") return DistBackend::kNccl;
  throw Error(cat("--distributed-backend: '", text, "' is not gloo or nccl"));
}

// Every rank bumps hb/<rank> once a second over its own store connection. After a failed collective the
// ranks whose counter stands still are the lost ones; when the store itself is gone, rank 0 (its host) is.
// Once watch() is called, the thread also watches the neighbours' counters (ranks r - 1 and r + 1): one that
// stands still for `lost_after` died or stopped without any collective saying so (Gloo did not always see a
// SIGKILLed peer's sockets close, and a stopped rank closes nothing). The watcher publishes it under "lost",
// which every rank reads each second, and calls `on_lost` with it. A rank that finished writes "left".
class Heartbeat {
 public:
  using OnLost = std::function<void(const std::string& lost)>;
  // `store_on_rank0`: rank 0 serves the store (not torchrun's agent), so a store that stops answering is rank 0 lost.
  Heartbeat(StorePtr store, int64_t rank, int64_t world, bool store_on_rank0, std::chrono::milliseconds lost_after,
            OnLost on_lost)
      : store_(std::move(store)),
        rank_(rank),
        world_(world),
        store_on_rank0_(store_on_rank0),
        lost_after_(lost_after),
        on_lost_(std::move(on_lost)) {
    store_->compareSet(kLostKey, {}, bytes(kNoneLost));  // the first rank creates it
    for (int64_t r : {rank - 1, rank + 1})
      if (int64_t n = (r + world) % world;
          n != rank && std::find(neighbours_.begin(), neighbours_.end(), n) == neighbours_.end())
        neighbours_.push_back(n);
    seen_.resize(neighbours_.size());
    beat();
    thread_ = std::thread([this] {
      while (!stop_) {
        pause();
        std::lock_guard<std::mutex> lock(mutex_);
        if (left_) return;
        try {
          beat();
          if (watching_) watch_neighbours();
        } catch (const std::exception&) {
          pause();  // a rank that is just ending (an error on every rank) stops this thread meanwhile
          if (watching_ && store_on_rank0_ && rank_ != 0 && !stop_) on_lost_("rank 0 (it serves the rendezvous store)");
          return;  // else the next collective reports it
        }
      }
    });
  }
  ~Heartbeat() {
    stop_ = true;
    thread_.join();
  }

  void watch() { watching_ = true; }  // every rank has written its first beat
  // This rank has finished every collective: its counter may stand still from now on.
  void leave() {
    std::lock_guard<std::mutex> lock(mutex_);
    left_ = true;
    try {
      store_->set(cat("hb/", rank_), bytes(kLeft));
    } catch (const std::exception&) {
    }
  }

  // "rank 2" / "ranks 1, 3" / "" (none found), after watching the counters for `window`.
  std::string lost(std::chrono::milliseconds window) {
    std::vector<std::string> keys;
    for (int64_t r = 0; r < world_; ++r) keys.push_back(cat("hb/", r));
    std::vector<std::vector<uint8_t>> before, after;
    try {
      before = store_->multiGet(keys);
      std::this_thread::sleep_for(window);
      after = store_->multiGet(keys);
    } catch (const std::exception&) {
      return rank_ == 0 ? "" : "rank 0 (it serves the rendezvous store)";
    }
    std::string list;
    int found = 0;
    for (int64_t r = 0; r < world_; ++r)
      if (r != rank_ && before[r] == after[r] && text(after[r]) != kLeft) list += cat(found++ ? ", " : "", r);
    return found == 0 ? "" : cat(found == 1 ? "rank " : "ranks ", list);
  }

 private:
  static constexpr const char* kLostKey = "lost";
  static constexpr const char* kNoneLost = "-";
  static constexpr const char* kLeft = "left";

  void beat() { store_->set(cat("hb/", rank_), bytes(std::to_string(++count_))); }
  void pause() {
    for (int k = 0; k < 10 && !stop_; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  void watch_neighbours() {
    std::vector<std::string> keys = {kLostKey};
    for (int64_t n : neighbours_) keys.push_back(cat("hb/", n));
    const std::vector<std::vector<uint8_t>> values = store_->multiGet(keys);
    if (const std::string published = text(values[0]); published != kNoneLost) return on_lost_(published);
    const auto now = std::chrono::steady_clock::now();
    for (size_t k = 0; k < neighbours_.size(); ++k) {
      Seen& seen = seen_[k];
      if (values[k + 1] != seen.value || text(values[k + 1]) == kLeft) {
        seen = {values[k + 1], now};
      } else if (now - seen.since >= lost_after_) {
        const std::string lost = cat("rank ", neighbours_[k]);
        store_->set(kLostKey, bytes(lost));
        return on_lost_(lost);
      }
    }
  }

  struct Seen {
    std::vector<uint8_t> value;
    std::chrono::steady_clock::time_point since;
  };
  StorePtr store_;
  int64_t rank_, world_, count_ = 0;
  bool store_on_rank0_;
  std::chrono::milliseconds lost_after_;
  OnLost on_lost_;
  std::vector<int64_t> neighbours_;
  std::vector<Seen> seen_;  // of neighbours_[k]
  std::atomic<bool> stop_{false}, watching_{false}, left_{false};
  std::mutex mutex_;  // a beat and its watch, or leave()
  std::thread thread_;
};

struct ProcessGroup::Links {
  StorePtr store;
  BackendPtr gloo;  // barriers, host tensors; every tensor of a Gloo job
  BackendPtr nccl;  // GPU tensors of an NCCL job; null with Gloo
  std::shared_ptr<gloo::transport::Device> device;
  std::unique_ptr<Heartbeat> heartbeat;
};

ProcessGroup::ProcessGroup(const LaunchEnv& env, const JoinOptions& options)
    : rank_(env.rank),
      world_(env.world_size),
      timeout_(options.timeout),
      device_(options.backend == DistBackend::kNccl ? options.device : at::Device(at::kCPU)),
      links_(std::make_unique<Links>()) {
  if (options.backend == DistBackend::kNccl && !options.device.is_cuda())
    throw Error(cat("--distributed-backend nccl: rank ", env.rank, " computes on ", options.device.str(),
                    ", not on a CUDA device (NCCL moves GPU memory): use --distributed-backend gloo on CPUs"));
  if (options.backend == DistBackend::kNccl) let_our_message_win_over_nccl();
  const std::string where = cat(env.master_addr, ":", env.master_port);
  try {
    links_->store = connect_store(env, env.rank == 0 && !env.agent_store, options.timeout);
    links_->heartbeat = std::make_unique<Heartbeat>(
        connect_store(env, false, options.timeout), env.rank, env.world_size, !env.agent_store,
        lost_after(options.timeout), [this](const std::string& lost) {
          exit_lost(cat("error: rank ", rank_, ": lost contact with ", lost,
                        " (its heartbeat stopped: it died or stopped answering; see its own output)"));
        });
    links_->device = gloo_device(env);
    links_->gloo = gloo_group(links_->store, "gloo", env.rank, env.world_size, links_->device, options.timeout);
    if (device_.is_cuda())
      links_->nccl = nccl_group(links_->store, "nccl", env.rank, env.world_size, device_, options.timeout);
  } catch (const std::exception& e) {
    throw Error(cat("rank ", env.rank, " of ", env.world_size, ": could not join the job at ", where,
                    " (MASTER_ADDR:MASTER_PORT) within ", options.timeout.count() / 1000, " s: ", e.what()));
  }
  links_->heartbeat->watch();  // every rank beat before the Gloo group formed
}

std::chrono::milliseconds ProcessGroup::lost_after(std::chrono::milliseconds timeout) {
  return std::clamp<std::chrono::milliseconds>(timeout / 6, std::chrono::seconds(5), std::chrono::seconds(60));
}

void ProcessGroup::leave(const std::string& what) {
  links_->heartbeat->leave();
  barrier(what);
}

ProcessGroup::~ProcessGroup() { shut_down(links_->nccl); }

namespace {
std::mutex g_exiting;  // held by the first failure path (a collective, the heartbeat watcher): one message
}  // namespace

void ProcessGroup::fail(const std::string& what, const std::exception& error) {
  g_exiting.lock();  // never released: the process ends here
  const std::string lost = links_->heartbeat->lost(std::chrono::milliseconds(3000));
  std::string message = cat("error: rank ", rank_, ": ", what, " failed: ");
  if (!lost.empty())
    message += cat("lost contact with ", lost, " (it died or stopped answering; see its own output)");
  else
    message += error.what();
  exit_with(message);
}

void ProcessGroup::exit_lost(const std::string& message) {
  g_exiting.lock();  // never released: the process ends here
  exit_with(message);
}

void ProcessGroup::exit_with(const std::string& message) {
  std::cerr << message << std::endl;
  // Rank 0 serves the store: it stays a moment so that the others can still read the heartbeats.
  if (rank_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  std::_Exit(1);
}

void ProcessGroup::all_reduce(at::Tensor& tensor, bool max, const std::string& what) {
  try {
    std::vector<at::Tensor> one = {tensor};
    c10d::AllreduceOptions o;
    o.reduceOp = max ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
    carrier(links_->gloo, links_->nccl, tensor).allreduce(one, o)->wait();
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

void ProcessGroup::all_reduce_sum(at::Tensor& tensor, const std::string& what) { all_reduce(tensor, false, what); }

void ProcessGroup::all_reduce_max(at::Tensor& tensor, const std::string& what) { all_reduce(tensor, true, what); }

void ProcessGroup::barrier(const std::string& what) {
  try {
    links_->gloo->barrier()->wait();
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

std::vector<std::string> ProcessGroup::exchange(const std::string& key, const std::string& value) {
  std::vector<std::string> out;
  const std::string unique = cat(key, "#", ++exchanges_);  // every rank makes the same calls: same numbers
  try {
    links_->store->set(cat(unique, "/", rank_), bytes(value));
    for (int64_t r = 0; r < world_; ++r) out.push_back(text(links_->store->get(cat(unique, "/", r))));
  } catch (const std::exception& e) {
    fail(cat("exchanging ", key), e);
  }
  barrier(cat("exchanging ", key));  // every rank has read before any goes on (and perhaps exits)
  return out;
}

struct Subgroup::Group {
  BackendPtr gloo, nccl;  // as ProcessGroup::Links
  c10d::Backend& carrier(const at::Tensor& t) const { return omnitune::carrier(gloo, nccl, t); }
};

std::unique_ptr<Subgroup> ProcessGroup::subgroup(const std::string& name, const std::vector<int64_t>& members) {
  auto it = std::find(members.begin(), members.end(), rank_);
  if (it == members.end() || !std::is_sorted(members.begin(), members.end()))
    throw Error(cat("internal: rank ", rank_, " is not a member of the process group '", name, "'"));
  std::unique_ptr<Subgroup> g(new Subgroup());
  g->owner_ = this;
  g->rank_ = it - members.begin();
  g->size_ = static_cast<int64_t>(members.size());
  g->group_ = std::make_unique<Subgroup::Group>();
  try {
    g->group_->gloo = gloo_group(links_->store, cat("gloo/", name), g->rank_, g->size_, links_->device, timeout_);
    if (links_->nccl)
      g->group_->nccl = nccl_group(links_->store, cat("nccl/", name), g->rank_, g->size_, device_, timeout_);
  } catch (const std::exception& e) {
    fail(cat("forming the process group '", name, "'"), e);
  }
  return g;
}

Subgroup::~Subgroup() { shut_down(group_->nccl); }

PendingCollective::PendingCollective(std::shared_ptr<void> work, ProcessGroup* owner, std::string what)
    : work_(std::move(work)), owner_(owner), what_(std::move(what)) {}

bool PendingCollective::done() const {
  return !work_ || static_cast<c10::intrusive_ptr<c10d::Work>*>(work_.get())->get()->isCompleted();
}

void PendingCollective::wait() {
  if (!work_) return;
  try {
    (*static_cast<c10::intrusive_ptr<c10d::Work>*>(work_.get()))->wait();
  } catch (const std::exception& e) {
    owner_->fail(what_, e);
  }
  work_.reset();
}

namespace {
std::shared_ptr<void> hold(c10::intrusive_ptr<c10d::Work> work) {
  return std::make_shared<c10::intrusive_ptr<c10d::Work>>(std::move(work));
}
}  // namespace

PendingCollective Subgroup::all_gather(at::Tensor& out, at::Tensor& in, const std::string& what) {
  try {
    return {hold(group_->carrier(in)._allgather_base(out, in)), owner_, what};
  } catch (const std::exception& e) {
    owner_->fail(what, e);
  }
}

PendingCollective Subgroup::reduce_scatter(at::Tensor& out, at::Tensor& in, const std::string& what) {
  try {
    c10d::ReduceScatterOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    return {hold(group_->carrier(in)._reduce_scatter_base(out, in, o)), owner_, what};
  } catch (const std::exception& e) {
    owner_->fail(what, e);
  }
}

void Subgroup::all_reduce_sum(at::Tensor& tensor, const std::string& what) {
  try {
    std::vector<at::Tensor> one = {tensor};
    group_->carrier(tensor).allreduce(one)->wait();
  } catch (const std::exception& e) {
    owner_->fail(what, e);
  }
}

void Subgroup::all_to_all(at::Tensor& out, at::Tensor& in, const std::string& what) {
  try {
    std::vector<int64_t> even;  // empty split sizes: dim 0 in equal parts
    group_->carrier(in).alltoall_base(out, in, even, even)->wait();
  } catch (const std::exception& e) {
    owner_->fail(what, e);
  }
}

}  // namespace omnitune
