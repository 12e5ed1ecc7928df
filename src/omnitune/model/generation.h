// model/generation: incremental decoding of the thinker with a KV cache, one sequence at a time, as
// transformers' generate does it: the prompt (with its media) runs once with the 3-D position ids of
// get_rope_index; each new token then runs alone at position past_length + rope_delta on all three axes,
// where rope_delta = max(prompt positions) + 1 - prompt length. Media inputs are read at the prompt only.
#pragma once

#include <ATen/Tensor.h>

#include "omnitune/model/kv_cache.h"
#include "omnitune/model/thinker.h"

namespace omnitune {

class Generator {
 public:
  explicit Generator(ThinkerImpl& thinker);
  // The prompt [1, S] with its media (no labels, no padding) -> the logits of its last position [V] (fp32).
  at::Tensor prefill(const ThinkerInputs& prompt);
  // Appends `token` after everything seen so far -> the logits of the next position [V] (fp32).
  at::Tensor next(int64_t token);
  int64_t length() const { return cache_.length(); }

 private:
  at::Tensor logits_of_last(const at::Tensor& embeds, const at::Tensor& position_ids, const at::Tensor& visual_mask,
                            const std::vector<at::Tensor>& deepstack);
  ThinkerImpl& thinker_;
  KvCache cache_;
  at::Tensor rope_delta_;  // [] float32: decode position = cached length + rope_delta
};

}  // namespace omnitune
