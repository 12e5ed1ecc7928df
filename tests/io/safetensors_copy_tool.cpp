// Test helper for tests/python/test_safetensors_interop.py:
//   safetensors_copy_tool <in file|dir> <out.safetensors> <values.safetensors> [<out-dir> <max-shard-bytes>]
// reads every tensor through OmniTune (zero-copy at::Tensor views), writes them back unchanged to
// <out.safetensors> (keeping __metadata__ of a single-file input), writes each as float64 to
// <values.safetensors> (so Python can check how every dtype was interpreted) and, when asked, as a
// sharded Hugging Face directory.
#include <ATen/ATen.h>

#include <cstdlib>
#include <iostream>

#include "omnitune/core/error.h"
#include "omnitune/io/torch_tensors.h"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 6) {
    std::cerr
        << "usage: safetensors_copy_tool <in> <out.safetensors> <values.safetensors> [<out-dir> <max-shard-bytes>]\n";
    return 2;
  }
  try {
    omnitune::SafetensorsCheckpoint in(argv[1]);
    omnitune::NamedTensors same, values;
    for (const auto& name : in.names()) {
      at::Tensor t = omnitune::read_tensor(in, name);
      same.emplace_back(name, t);
      values.emplace_back(name, t.to(at::kDouble));
    }
    std::map<std::string, std::string> metadata;
    if (in.shards().size() == 1) metadata = in.shards()[0]->metadata();
    omnitune::save_tensors(argv[2], same, metadata);
    omnitune::save_tensors(argv[3], values);
    if (argc == 6) omnitune::save_tensors_sharded(argv[4], same, std::strtoull(argv[5], nullptr, 10), metadata);
  } catch (const omnitune::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
