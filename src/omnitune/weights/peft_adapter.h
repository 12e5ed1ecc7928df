// weights/peft_adapter: LoRA adapters as PEFT reads and writes them — adapter_config.json +
// adapter_model.safetensors, keys `base_model.model.thinker.<module>.lora_A.weight` (the class of Qwen's
// checkpoints, Qwen3OmniMoeForConditionalGeneration; `base_model.model.<module>` for the thinker class is read
// too). Expert tensors (PEFT's target_parameters) are stored as PEFT's ParamWrapper does:
//   lora_A [r * E, in]  (expert e: rows e*r .. e*r + r - 1)     lora_B [out, r * E]  (expert e: columns k*E + e)
// under `<experts>.lora_*` — `<experts>.base_layer.lora_*` for gate_up_proj when down_proj has one too.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/lora.h"

namespace omnitune {

// A LoRA run's training checkpoint keeps its adapter's config next to the weights under PEFT's file name.
inline constexpr const char* kCheckpointAdapterConfig = "adapter_config.json";

// PEFT's adapter_config.json of `spec` (targets as whole thinker-relative names, which PEFT's suffix rule
// matches on either class); base_model_name_or_path = `base` (null when "").
nlohmann::json peft_adapter_config(const LoraSpec& spec, const std::string& base = "");

// A LoRA checkpoint's base model (its adapter_config.json's base_model_name_or_path); "" when `dir` is not the
// checkpoint of a LoRA run. Error when a LoRA checkpoint names none.
std::string adapter_base(const std::string& dir);

// The spec an adapter_config.json describes, its targets resolved on `thinker` by PEFT's rules (a list: the
// name or its last parts; a string: "all-linear" or a regular expression over the whole name; exclude_modules).
// Error naming the file for what PEFT can express and OmniTune does not run (DoRA, rank/alpha patterns, ...).
LoraSpec read_peft_adapter_config(ThinkerImpl& thinker, const std::string& path);

// The adapter tensors (and those of modules_to_save) under PEFT's keys, on the CPU in fp32: the thinker's
// own values, or those `value` gives for a parameter name.
using ParamValue = std::function<at::Tensor(const std::string& param)>;
NamedTensors peft_adapter_tensors(ThinkerImpl& thinker, const LoraSpec& spec);
NamedTensors peft_adapter_tensors(ThinkerImpl& thinker, const LoraSpec& spec, const ParamValue& value);

// <dir>/adapter_config.json (naming `base`, "" none) + adapter_model.safetensors, written into a staging
// directory renamed at the end.
void write_peft_adapter(const NamedTensors& tensors, const LoraSpec& spec, const std::string& base,
                        const std::string& dir, bool overwrite);

// `omnitune convert dcp-to-peft`: the adapter of a LoRA run's training checkpoint as a PEFT directory.
void convert_dcp_to_peft(const std::string& dcp_dir, const std::string& save_dir, bool overwrite);

// Attaches the adapter of a PEFT directory to `thinker` and loads its tensors (strict: every key used, every
// adapter filled). Returns its spec.
LoraSpec load_peft_adapter(ThinkerImpl& thinker, const std::string& dir);
// The two halves: attach the adapter its adapter_config.json describes (factors not filled), then fill the
// factors (and modules_to_save) of the attached `spec` from <dir>/adapter_model.safetensors.
LoraSpec attach_peft_adapter(ThinkerImpl& thinker, const std::string& dir);
void read_peft_adapter_values(ThinkerImpl& thinker, const LoraSpec& spec, const std::string& dir);

}  // namespace omnitune
