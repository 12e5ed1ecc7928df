#include "omnitune/model/param_init.h"

#include <ATen/ATen.h>

namespace omnitune {

namespace {
thread_local bool g_meta = false;
}

at::TensorOptions param_options() {
  return at::TensorOptions().dtype(at::kFloat).device(g_meta ? at::Device(at::kMeta) : at::Device(at::kCPU));
}
at::Tensor param_empty(c10::IntArrayRef shape) { return at::empty(shape, param_options()); }
at::Tensor param_ones(c10::IntArrayRef shape) { return at::ones(shape, param_options()); }
at::Tensor param_zeros(c10::IntArrayRef shape) { return at::zeros(shape, param_options()); }

MetaInit::MetaInit() : previous_(g_meta) { g_meta = true; }
MetaInit::~MetaInit() { g_meta = previous_; }

}  // namespace omnitune
