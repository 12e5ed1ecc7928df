// train/peak_flops: the FLOP/s an MFU figure is measured against. A known GPU's dense datasheet
// number for the compute dtype; otherwise (the CPU, unknown GPUs) a short GEMM measured on the device.
#pragma once

#include <string>

#include <ATen/Tensor.h>

namespace omnitune {

struct PeakFlops {
  double flops_per_s = 0;
  std::string source;  // "H100 datasheet (bf16 dense)", "measured GEMM (fp32, 4 threads)", ...
};

PeakFlops peak_flops(at::Device device, at::ScalarType compute);

}  // namespace omnitune
