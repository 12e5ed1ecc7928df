// model/param_init: where and how module constructors create their parameters. By default on the CPU
// in fp32; inside a MetaInit scope on the meta device (shapes only, no memory), so the full 30B model
// can be built to count or plan it. Constructors call param_empty(shape) instead of at::empty(shape).
#pragma once

#include <ATen/Tensor.h>
#include <c10/util/ArrayRef.h>

namespace omnitune {

at::TensorOptions param_options();               // options of newly created parameters
at::Tensor param_empty(c10::IntArrayRef shape);  // uninitialised
at::Tensor param_ones(c10::IntArrayRef shape);   // norm weights
at::Tensor param_zeros(c10::IntArrayRef shape);  // biases

class MetaInit {  // RAII: parameters created while it lives are on the meta device
 public:
  MetaInit();
  ~MetaInit();
  MetaInit(const MetaInit&) = delete;
  MetaInit& operator=(const MetaInit&) = delete;

 private:
  bool previous_;
};

}  // namespace omnitune
