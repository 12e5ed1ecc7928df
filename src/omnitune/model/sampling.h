// model/sampling: the next token from the logits, as transformers' generate picks it: greedy (argmax)
// when temperature is 0, else the logits divided by the temperature, then top-k, then top-p (nucleus)
// filtering, then a draw from the softmax with a seeded generator.
#pragma once

#include <cstdint>

#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

namespace omnitune {

struct SamplingOptions {
  double temperature = 0;  // 0 = greedy
  int64_t top_k = 0;       // 0 = off
  double top_p = 1.0;      // 1 = off
  uint64_t seed = 0;
};

// Throws Error naming the flag for values outside temperature >= 0, top_k >= 0, 0 < top_p <= 1.
void check_sampling(const SamplingOptions& options);

class TokenSampler {
 public:
  explicit TokenSampler(const SamplingOptions& options);
  int64_t pick(const at::Tensor& logits);  // logits [V] fp32 -> token id

 private:
  SamplingOptions options_;
  at::Generator generator_;
};

}  // namespace omnitune
