// model/activation_offload: host copies of the checkpoint inputs of a layer stack (the seed's activation
// offload). With recompute on, a layer keeps only its inputs; this moves its input hidden state to host
// memory during the forward and brings it back one layer ahead of the backward:
//   forward   save(x): x is copied to pinned host memory on a side stream (asynchronous) and the slot
//             drops x; its device memory is reused once the copy is done and nothing else holds x
//   backward  fetch(i): slot i is made ready on the current stream (its copy back was usually started by
//             fetch(i+1)) and the copy back of slot i-1 starts, overlapping layer i's backward
// The last layer's input stays on the device (its backward comes first), as in the seed.
// On the CPU the host is the device: save keeps x itself, nothing is copied and no memory is saved; the
// bookkeeping (slots, prefetch order, statistics) runs the same.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include <ATen/Tensor.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>

namespace omnitune {

// Process-wide counters, for benchmarks and tests (on the CPU they count the same events; no bytes move).
struct OffloadStats {
  int64_t offloaded = 0;        // layer inputs sent to the host
  int64_t offloaded_bytes = 0;  // their bytes
  int64_t prefetched = 0;       // fetches whose copy back was already under way
  int64_t on_demand = 0;        // fetches that had to start their own copy back
};
OffloadStats offload_stats();
void reset_offload_stats();

// One per layer stack and forward: the layers' forwards save() in order 0..layers-1, their backwards
// fetch() in reverse. Held by the layers' autograd nodes, so it lives as long as the graph.
class ActivationOffload {
 public:
  explicit ActivationOffload(int64_t layers);
  ActivationOffload(const ActivationOffload&) = delete;
  ActivationOffload& operator=(const ActivationOffload&) = delete;

  // Takes the next layer's input hidden state; returns its slot.
  int64_t save(const at::Tensor& x);
  // The slot's tensor on its device, ready on the current stream. Host copies are kept until this object
  // dies, so a second backward (retain_graph) works too. Throws when x was modified in place after save.
  at::Tensor fetch(int64_t slot);

 private:
  struct Slot {
    at::Tensor resident;  // on the device: the last layer's input, or a copy on its way back
    at::Tensor host;      // the host copy (undefined for the last layer)
    at::Device device = at::kCPU;
    c10::VariableVersion version;  // x's version counter, and its value at save
    uint32_t saved_version = 0;
    std::optional<c10::Event> back;  // the copy back is done (accelerators)
  };
  void start_copy_back(Slot& slot);  // host -> resident, on the side stream

  int64_t layers_;
  std::mutex mutex_;
  std::vector<Slot> slots_;
  std::optional<c10::Stream> side_;  // the copy stream (accelerators), taken at the first copy
};

}  // namespace omnitune
