#include "omnitune/data/sampler.h"

#include <numeric>

#include "omnitune/core/error.h"

namespace omnitune {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t shuffle_state(uint64_t seed, int64_t epoch) {
  return seed * 0x100000001B3ull + static_cast<uint64_t>(epoch) + 1;
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  uint64_t state = shuffle_state(seed, epoch);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[splitmix64(state) % static_cast<uint64_t>(i + 1)]);
  return p;
}

Sampler::Sampler(int64_t dataset_size, const SamplerOptions& options) : size_(dataset_size), options_(options) {
  if (options.micro_batch < 1 || options.dp_size < 1 || options.dp_rank < 0 || options.dp_rank >= options.dp_size)
    throw Error(cat("sampler: invalid micro batch ", options.micro_batch, " / data-parallel rank ", options.dp_rank,
                    " of ", options.dp_size));
  const int64_t global = options.micro_batch * options.dp_size;
  batches_per_epoch_ = options.drop_last ? size_ / global : (size_ + global - 1) / global;
  if (batches_per_epoch_ == 0)
    throw Error(cat("the dataset has ", size_, " rows, fewer than one global micro-batch (", options.micro_batch, " x ",
                    options.dp_size, " ranks) with drop_last"));
  build_epoch();
}

void Sampler::build_epoch() {
  std::vector<int64_t> all = permutation(size_, options_.seed, state_.epoch);
  if (!options_.shuffle) std::iota(all.begin(), all.end(), 0);
  const int64_t used = batches_per_epoch_ * options_.micro_batch * options_.dp_size;
  for (int64_t i = 0; static_cast<int64_t>(all.size()) < used; ++i) all.push_back(all[i]);  // complete the tail
  order_.clear();
  for (int64_t i = options_.dp_rank; i < used; i += options_.dp_size) order_.push_back(all[i]);
}

std::vector<int64_t> Sampler::next() {
  if (state_.position >= batches_per_epoch_) {
    ++state_.epoch;
    state_.position = 0;
    build_epoch();
  }
  auto begin = order_.begin() + state_.position * options_.micro_batch;
  ++state_.position;
  return {begin, begin + options_.micro_batch};
}

void Sampler::restore(const SamplerState& state) {
  if (state.epoch < 0 || state.position < 0 || state.position > batches_per_epoch_)
    throw Error(cat("sampler state (epoch ", state.epoch, ", position ", state.position,
                    ") does not fit this dataset (", batches_per_epoch_, " micro-batches per epoch)"));
  state_ = state;
  build_epoch();
}

}  // namespace omnitune
