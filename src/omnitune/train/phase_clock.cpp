#include "omnitune/train/phase_clock.h"

#include <ATen/cuda/CUDAEvent.h>

#include <chrono>
#include <utility>

namespace omnitune {

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

struct PhaseClock::Events {
  std::array<std::unique_ptr<at::cuda::CUDAEvent>, 3> open;  // started, not stopped
  std::vector<std::pair<int, std::pair<std::unique_ptr<at::cuda::CUDAEvent>, std::unique_ptr<at::cuda::CUDAEvent>>>>
      done;
};

PhaseClock::PhaseClock(c10::Device device) : device_(device) {
  if (device_.is_cuda()) events_ = std::make_unique<Events>();
}

PhaseClock::~PhaseClock() = default;

void PhaseClock::start(Phase phase) {
  const int p = static_cast<int>(phase);
  if (!events_) {
    cpu_started_[p] = now();
    return;
  }
  events_->open[p] = std::make_unique<at::cuda::CUDAEvent>(cudaEventDefault);  // timing enabled
  events_->open[p]->record();
}

void PhaseClock::stop(Phase phase) {
  const int p = static_cast<int>(phase);
  if (!events_) {
    cpu_seconds_[p] += now() - cpu_started_[p];
    return;
  }
  auto end = std::make_unique<at::cuda::CUDAEvent>(cudaEventDefault);
  end->record();
  events_->done.emplace_back(p, std::make_pair(std::move(events_->open[p]), std::move(end)));
}

std::array<double, 3> PhaseClock::collect() {
  std::array<double, 3> out = cpu_seconds_;
  cpu_seconds_ = {};
  if (!events_) return out;
  if (!events_->done.empty()) events_->done.back().second.second->synchronize();
  for (auto& [p, pair] : events_->done) out[p] += pair.first->elapsed_time(*pair.second) / 1e3;
  events_->done.clear();
  return out;
}

}  // namespace omnitune
