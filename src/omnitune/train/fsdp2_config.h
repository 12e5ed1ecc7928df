// train/fsdp2_config: the seed's FSDP2 yaml (`--fsdp2-config-path`), typed. Keys and defaults follow
// MindSpeed-MM's Fsdp2Config; unknown keys are errors, keys the seed itself ignores for Qwen3-Omni are
// accepted and listed in `ignored` so the trainer can report them once.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace omnitune {

enum class Precision { kFloat32, kBFloat16, kFloat16 };
Precision parse_precision(const std::string& text, const std::string& where);  // bf16, bfloat16, fp32, ...
const char* precision_name(Precision p);

struct Fsdp2Config {
  std::optional<int> sharding_size;  // nullopt = "auto": shard over the whole data-parallel group
  bool reshard_after_forward = true;
  Precision param_dtype = Precision::kBFloat16;  // compute dtype of the gathered parameters
  Precision reduce_dtype = Precision::kFloat32;  // gradient reduce-scatter dtype
  std::optional<Precision> output_dtype;         // cast of module outputs; none = leave as computed
  bool cast_forward_inputs = true;
  int num_to_forward_prefetch = 1;
  int num_to_backward_prefetch = 1;
  bool offload_to_cpu = false;
  bool pin_memory = true;
  std::vector<std::string> ignored_modules;
  std::vector<std::string> ignored;  // keys present that have no effect for Qwen3-Omni (as in the seed)
};

Fsdp2Config load_fsdp2_config(const std::string& yaml_path);
// The same from the YAML already parsed (`yaml_path` labels errors).
Fsdp2Config read_fsdp2_config(nlohmann::json root, const std::string& yaml_path);

}  // namespace omnitune
