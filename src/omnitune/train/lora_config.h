// train/lora_config: model.json's `lora` section (the seed's `training.lora` keys, PEFT's names) and its
// targets resolved on the thinker. Target entries name modules as PEFT does — a plain name matches a module
// whose name is it or ends with ".<it>" — or with the freeze patterns' globs (`*`, `?`, `{*}`, `{a-b}`) over
// the whole name; "all-linear" is every linear layer but lm_head and the MoE routers. The experts' merged
// tensors are `target_parameters` (e.g. "mlp.experts.gate_up_proj", "mlp.experts.down_proj").
#pragma once

#include <set>
#include <string>
#include <vector>

#include "omnitune/core/config_reader.h"
#include "omnitune/model/lora.h"

namespace omnitune {

struct LoraSettings {
  bool enabled = false;
  LoraSpec hyper;  // rank, alpha, dropout, rslora, init (its name lists stay empty: resolve_lora fills them)
  std::vector<std::string> target_modules = {"q_proj", "k_proj", "v_proj"};  // the seed's default
  std::vector<std::string> target_parameters;
  std::vector<std::string> modules_to_save;
  std::string where;  // "<model.json>: $.lora"
  // The seed's pretrained_lora_path: a PEFT adapter directory to start from; its adapter_config.json then sets
  // rank, alpha, dropout and targets (the keys above stay unset).
  std::string pretrained_lora_path;
};

LoraSettings read_lora_settings(ConfigReader in);

// The names the settings pick on this thinker. Error naming the entry when one matches nothing.
LoraSpec resolve_lora(ThinkerImpl& thinker, const LoraSettings& settings);

// Attaches the settings' adapters to `thinker` (those of pretrained_lora_path's adapter_config.json when set, their
// factors not yet filled) and returns their spec.
LoraSpec attach_lora(ThinkerImpl& thinker, const LoraSettings& settings);

// What LoRA freezes: every parameter but the adapter factors and those of modules_to_save.
std::set<std::string> lora_frozen_parameters(ThinkerImpl& thinker, const LoraSpec& spec);

}  // namespace omnitune
