// libFuzzer target: any byte string handed to the safetensors header parser must give a header or
// an omnitune::Error — never a crash, hang, leak or undefined behaviour (built with ASan + UBSan).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "omnitune/core/error.h"
#include "omnitune/io/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    omnitune::SafetensorsHeader h = omnitune::parse_safetensors(data, size, "fuzz.safetensors");
    // A header that parsed must describe bytes inside the input: touch them all.
    volatile uint8_t sink = 0;
    for (const auto& t : h.tensors)
      for (uint64_t i = h.data_start + t.begin; i < h.data_start + t.end; ++i) sink = sink ^ data[i];
    std::vector<omnitune::TensorEntry> entries = h.tensors;
    omnitune::build_safetensors_header(entries, h.metadata);
  } catch (const omnitune::Error&) {
  }
  return 0;
}
