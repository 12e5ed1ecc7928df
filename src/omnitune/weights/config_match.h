// weights/config_match: does a checkpoint's config.json describe the same thinker as the model it is
// loaded into? Compares the thinker part (`thinker_config`, or the whole file for a bare thinker config)
// key by key, ignoring keys that change neither the architecture nor the meaning of the weights:
// dtype/torch_dtype, _name_or_path, architectures, transformers_version, attention implementation,
// initializer_range, use_cache, output_* / return_dict switches, output_router_logits, router_aux_loss_coef.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace omnitune {

// One line per difference: "thinker_config.text_config.num_hidden_layers (checkpoint 2, expected 48)".
std::vector<std::string> thinker_config_differences(const nlohmann::json& checkpoint, const nlohmann::json& expected);

// Error "<what>: made for a different model config: <differences>" unless the thinker parts agree.
void check_same_thinker_config(const nlohmann::json& checkpoint, const nlohmann::json& expected,
                               const std::string& what);

}  // namespace omnitune
