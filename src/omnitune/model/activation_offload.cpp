#include "omnitune/model/activation_offload.h"

#include <ATen/ATen.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <atomic>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

std::atomic<int64_t> g_offloaded{0}, g_offloaded_bytes{0}, g_prefetched{0}, g_on_demand{0};

}  // namespace

OffloadStats offload_stats() {
  return {g_offloaded.load(), g_offloaded_bytes.load(), g_prefetched.load(), g_on_demand.load()};
}

void reset_offload_stats() {
  g_offloaded = 0;
  g_offloaded_bytes = 0;
  g_prefetched = 0;
  g_on_demand = 0;
}

ActivationOffload::ActivationOffload(int64_t layers) : layers_(layers) {}

int64_t ActivationOffload::save(const at::Tensor& x) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto index = static_cast<int64_t>(slots_.size());
  if (index >= layers_) throw Error(cat("activation offload: more than the ", layers_, " layers it was made for"));
  Slot& slot = slots_.emplace_back();
  slot.device = x.device();
  slot.version = x.unsafeGetTensorImpl()->version_counter();
  slot.saved_version = slot.version.current_version();
  // Slots hold detached tensors: x's grad_fn is the previous layer's node, which holds this object.
  if (index == layers_ - 1) {  // the last layer: its backward comes first, nothing to gain
    slot.resident = x.detach();
    return index;
  }
  ++g_offloaded;
  g_offloaded_bytes += static_cast<int64_t>(x.nbytes());
  if (x.is_cpu()) {
    slot.host = x.detach();
    return index;
  }
  c10::impl::VirtualGuardImpl impl(x.device().type());
  c10::Stream compute = impl.getStream(x.device());
  if (!side_) side_ = impl.getStreamFromGlobalPool(x.device(), /*isHighPriority=*/false);
  c10::Event produced(x.device().type());
  produced.record(compute);
  produced.block(*side_);  // the copy starts once x is computed
  slot.host = at::empty(x.sizes(), x.options().device(at::kCPU).pinned_memory(true));
  {
    c10::StreamGuard on_side(*side_);
    slot.host.copy_(x, /*non_blocking=*/true);
  }
  // x's memory goes back to the allocator only after the side stream's copy.
  impl.recordDataPtrOnStream(x.storage().data_ptr(), *side_);
  return index;
}

void ActivationOffload::start_copy_back(Slot& slot) {
  if (slot.device.is_cpu()) {
    slot.resident = slot.host;
    return;
  }
  c10::impl::VirtualGuardImpl impl(slot.device.type());
  c10::Stream compute = impl.getStream(slot.device);
  // Allocated for the compute stream, which uses it; the side stream writes it after the compute stream's
  // work so far (the memory's earlier users) and the side stream's own device -> host copy.
  slot.resident = at::empty(slot.host.sizes(), slot.host.options().device(slot.device).pinned_memory(false));
  c10::Event allocated(slot.device.type());
  allocated.record(compute);
  allocated.block(*side_);
  {
    c10::StreamGuard on_side(*side_);
    slot.resident.copy_(slot.host, /*non_blocking=*/true);
  }
  slot.back.emplace(slot.device.type());
  slot.back->record(*side_);
}

at::Tensor ActivationOffload::fetch(int64_t index) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (index < 0 || index >= static_cast<int64_t>(slots_.size()))
    throw Error(cat("activation offload: no saved layer input ", index));
  Slot& slot = slots_[index];
  if (slot.version.current_version() != slot.saved_version)
    throw Error(cat("recompute: the input of layer ", index, " was modified in place after its forward"));
  at::Tensor out;
  if (!slot.host.defined()) {
    out = slot.resident;  // the last layer's, kept on the device
  } else {
    if (slot.resident.defined()) {
      ++g_prefetched;
    } else {
      ++g_on_demand;
      start_copy_back(slot);
    }
    if (slot.back) {
      c10::impl::VirtualGuardImpl impl(slot.device.type());
      slot.back->block(impl.getStream(slot.device));
      slot.back.reset();
    }
    out = std::move(slot.resident);
    slot.resident = at::Tensor();
  }
  if (index > 0 && !slots_[index - 1].resident.defined()) start_copy_back(slots_[index - 1]);  // one layer ahead
  return out;
}

}  // namespace omnitune
