// weights/convert: Hugging Face checkpoint <-> training checkpoint (`omnitune convert`), the seed's
// ExpertMergeDcpConverter with safetensors instead of torch DCP files. Both directions stream tensor by
// tensor (memory stays bounded whatever the model size), check everything before writing, and write into
// a staging directory renamed into place at the end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "omnitune/io/dtype.h"

namespace omnitune {

// <save_dir>/release/ + the tracker: a weights-only checkpoint (checkpoint_model.h) with the experts
// merged and `thinker.` stripped. talker.* / code2wav.* tensors are not written (they are not trained;
// dcp-to-hf copies them from the original).
struct HfToDcpOptions {
  std::string hf_dir, save_dir;
  std::string dcp_prefix, hf_prefix;  // the seed's prefix rule, see checkpoint_tensor_name
  uint64_t max_shard_bytes = 4'000'000'000;
  bool overwrite = false;  // replace <save_dir>/release (and the tracker) when save_dir is not empty
};
void convert_hf_to_dcp(const HfToDcpOptions& options);

// A complete Hugging Face model directory: the thinker from the training checkpoint as per-expert
// `thinker.` tensors in the original's names, shapes and (by default) dtypes; talker/code2wav tensors
// copied byte for byte from the original; every non-weight file of the original copied. A LoRA run's checkpoint
// gives its base (the model its adapter_config.json names) with the adapter merged: W + scaling * B A.
struct DcpToHfOptions {
  std::string hf_dir;   // the original Hugging Face model
  std::string dcp_dir;  // a save root, iter_N or release
  std::string save_dir;
  std::optional<DType> dtype;  // thinker tensors in this dtype instead of the original's
  uint64_t max_shard_bytes = 4'000'000'000;
  bool overwrite = false;
};
void convert_dcp_to_hf(const DcpToHfOptions& options);

}  // namespace omnitune
