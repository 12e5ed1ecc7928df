// tests/model/tiny_thinker: the tiny thinker with seeded random weights, nudged so that norms and biases are
// not trivial — the same on every call (tests compare copies of it).
#pragma once

#include <ATen/ATen.h>

#include "omnitune/model/hf_checkpoint.h"

namespace omnitune::test {

inline Thinker tiny_thinker() {
  ThinkerConfig config = load_thinker_config(OMNITUNE_SOURCE_DIR "/assets/configs/tiny-qwen3-omni");
  Thinker thinker(config);
  init_thinker_weights(*thinker, 5);
  at::manual_seed(2);
  at::NoGradGuard no_grad;
  for (auto& p : thinker->parameters()) p.add_(at::randn_like(p) * 0.05);
  return thinker;
}

}  // namespace omnitune::test
