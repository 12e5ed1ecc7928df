// train/phase_clock: how long the device spent in each phase of the steps (forward, backward, optimizer),
// measured without synchronising it per phase: on a GPU, timing events recorded on the current stream
// around each phase, read only when collect() is called (when a log line is due); on the CPU, where work is
// synchronous, the wall clock.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include <c10/core/Device.h>

namespace omnitune {

enum class Phase { kForward, kBackward, kOptimizer };

class PhaseClock {
 public:
  explicit PhaseClock(c10::Device device);
  ~PhaseClock();
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

  void start(Phase phase);
  void stop(Phase phase);
  // Seconds spent in each phase (indexed by Phase) since the previous collect(); waits for the work
  // recorded so far (on a GPU, for the last event).
  std::array<double, 3> collect();

 private:
  struct Events;  // the CUDA events in flight (GPU only)
  c10::Device device_;
  std::unique_ptr<Events> events_;
  std::array<double, 3> cpu_seconds_{};
  std::array<double, 3> cpu_started_{};
};

}  // namespace omnitune
