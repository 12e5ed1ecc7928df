// data/sampler: which dataset rows each data-parallel rank reads, micro-batch by micro-batch.
// Epoch e visits a permutation seeded by (seed, e) (identity without shuffle); rank r of D takes
// every D-th entry starting at r, so ranks partition the data; the state (epoch, position) is saved
// with checkpoints and a restored sampler continues with exactly the next micro-batch.
#pragma once

#include <cstdint>
#include <vector>

namespace omnitune {

struct SamplerOptions {
  int64_t micro_batch = 1;
  int64_t dp_rank = 0, dp_size = 1;
  uint64_t seed = 42;
  bool shuffle = true;
  // true: the tail that does not fill micro_batch * dp_size is dropped each epoch; false: it is
  // completed with the epoch's first entries, so every rank runs the same number of steps.
  bool drop_last = true;
};

struct SamplerState {
  int64_t epoch = 0;
  int64_t position = 0;  // micro-batches already taken in this epoch
};

class Sampler {
 public:
  Sampler(int64_t dataset_size, const SamplerOptions& options);
  std::vector<int64_t> next();  // the next micro-batch of row indices (moves to the next epoch at the end)
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  SamplerState state() const { return state_; }
  void restore(const SamplerState& state);

 private:
  void build_epoch();
  int64_t size_;
  SamplerOptions options_;
  int64_t batches_per_epoch_;
  SamplerState state_;
  std::vector<int64_t> order_;  // this rank's rows for the current epoch
};

// The epoch's permutation of [0, n): a Fisher-Yates shuffle driven by splitmix64 (the same on every
// platform and library version).
std::vector<int64_t> permutation(int64_t n, uint64_t seed, int64_t epoch);

// The random stream behind the shuffles: splitmix64 steps from the state (seed, epoch) gives.
uint64_t shuffle_state(uint64_t seed, int64_t epoch);
uint64_t splitmix64(uint64_t& state);

}  // namespace omnitune
