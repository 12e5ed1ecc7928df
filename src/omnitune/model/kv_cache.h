// model/kv_cache: the keys and values of every token the text decoder has seen, per layer, for
// generation: each forward appends its tokens' k/v and attends over all of them. Storage grows by
// doubling, so appending one token copies one token.
#pragma once

#include <utility>
#include <vector>

#include <ATen/Tensor.h>

namespace omnitune {

class LayerKv {
 public:
  // k, v [B, Hkv, s, D] of the s new tokens -> the cached keys and values with them, [B, Hkv, T + s, D].
  std::pair<at::Tensor, at::Tensor> append(const at::Tensor& k, const at::Tensor& v);
  int64_t length() const { return length_; }

 private:
  at::Tensor keys_, values_;  // [B, Hkv, capacity, D]
  int64_t length_ = 0;
};

struct KvCache {
  explicit KvCache(int64_t layers) : layers(layers) {}
  int64_t length() const { return layers.empty() ? 0 : layers[0].length(); }
  std::vector<LayerKv> layers;
};

}  // namespace omnitune
