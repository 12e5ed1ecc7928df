#include "omnitune/model/kv_cache.h"

#include <ATen/ATen.h>

namespace omnitune {

std::pair<at::Tensor, at::Tensor> LayerKv::append(const at::Tensor& k, const at::Tensor& v) {
  const int64_t added = k.size(2), needed = length_ + added;
  if (!keys_.defined() || needed > keys_.size(2)) {
    const int64_t capacity = std::max<int64_t>(needed, keys_.defined() ? 2 * keys_.size(2) : 256);
    auto grown = [&](const at::Tensor& old, const at::Tensor& like) {
      at::Tensor buffer = at::empty({like.size(0), like.size(1), capacity, like.size(3)}, like.options());
      if (length_ > 0) buffer.narrow(2, 0, length_).copy_(old.narrow(2, 0, length_));
      return buffer;
    };
    keys_ = grown(keys_, k);
    values_ = grown(values_, v);
  }
  keys_.narrow(2, length_, added).copy_(k);
  values_.narrow(2, length_, added).copy_(v);
  length_ = needed;
  return {keys_.narrow(2, 0, length_), values_.narrow(2, 0, length_)};
}

}  // namespace omnitune
