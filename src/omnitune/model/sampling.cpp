#include "omnitune/model/sampling.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <limits>

#include "omnitune/core/error.h"

namespace omnitune {

void check_sampling(const SamplingOptions& o) {
  if (!(o.temperature >= 0)) throw Error(cat("--temperature must be >= 0 (0 = greedy), got ", o.temperature));
  if (o.top_k < 0) throw Error(cat("--top-k must be >= 0 (0 = off), got ", o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1)) throw Error(cat("--top-p must be in (0, 1] (1 = off), got ", o.top_p));
}

TokenSampler::TokenSampler(const SamplingOptions& options)
    : options_(options), generator_(at::make_generator<at::CPUGeneratorImpl>(options.seed)) {
  check_sampling(options);
}

int64_t TokenSampler::pick(const at::Tensor& logits) {
  if (options_.temperature == 0) return logits.argmax().item<int64_t>();
  at::Tensor scores = logits.to(at::kCPU, at::kFloat) / options_.temperature;  // [V]
  const float removed = -std::numeric_limits<float>::infinity();
  if (options_.top_k > 0 && options_.top_k < scores.size(0)) {  // below the k-th largest score: out
    at::Tensor kth = std::get<0>(at::topk(scores, options_.top_k)).select(0, -1);
    scores = scores.masked_fill(scores < kth, removed);
  }
  if (options_.top_p < 1) {  // the smallest scores whose probabilities sum to at most 1 - top_p: out (keep one)
    auto [sorted, order] = at::sort(scores, /*dim=*/0, /*descending=*/false);
    at::Tensor cumulative = sorted.softmax(0).cumsum(0);
    at::Tensor drop_sorted = cumulative <= (1 - options_.top_p);
    drop_sorted.select(0, -1).fill_(false);
    scores = scores.masked_fill(at::zeros_like(drop_sorted).scatter(0, order, drop_sorted), removed);
  }
  return at::multinomial(scores.softmax(0), 1, false, generator_).item<int64_t>();
}

}  // namespace omnitune
