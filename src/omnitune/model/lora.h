// model/lora: low-rank adapters (LoRA) on the thinker, with PEFT's semantics so that PEFT loads what we train.
//   Linear  y = x W^T + b + scaling * B(A(dropout(x)))      A [r, in], B [out, r]   (<module>.lora_A / lora_B)
//   experts per expert e: W_e + scaling * delta_e, applied as x W_e + scaling * (x A_e) B_e
//           A [E, in, r], B [E, r, out]   (<experts>.<tensor>_lora_A / _lora_B; PEFT's target_parameters)
// scaling = alpha / r (alpha / sqrt(r) with rslora). A starts as PEFT's kaiming-uniform (|A| <= 1/sqrt(in)) or
// gaussian N(0, 1/r), B as zeros: a new adapter changes nothing. Which names to adapt is decided by the caller
// (model.json's patterns, or a PEFT adapter_config.json).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/model/thinker.h"

namespace omnitune {

struct LoraSpec {
  int64_t rank = 8;
  double alpha = 16;
  double dropout = 0;
  bool rslora = false;
  bool gaussian_init = false;                // init_lora_weights "gaussian" (else PEFT's default)
  std::vector<std::string> modules;          // thinker-relative names of the linear layers to adapt
  std::vector<std::string> parameters;       // expert tensors to adapt (model.layers.0.mlp.experts.gate_up_proj)
  std::vector<std::string> modules_to_save;  // modules that train whole next to the adapters
  double scaling() const;
};

// Every linear layer of the thinker an adapter may go on, by name, in the thinker's order; `all_linear` leaves
// out what PEFT's "all-linear" leaves out: lm_head and the MoE routers (no nn.Linear in transformers).
std::vector<std::string> lora_linear_layers(ThinkerImpl& thinker, bool all_linear = false);
// Every merged expert tensor (model.layers.N.mlp.experts.{gate_up_proj,down_proj}).
std::vector<std::string> lora_expert_tensors(ThinkerImpl& thinker);
// PEFT's rule for a plain target name: the whole name, or its last dot-separated parts.
bool peft_name_matches(const std::string& name, const std::string& target);

// Attaches the adapters (parameters uninitialised: see init_lora_parameter). `where` labels errors: a name that
// is not a linear layer / expert tensor of the thinker, lm_head, dropout with expert tensors.
void add_lora(ThinkerImpl& thinker, const LoraSpec& spec, const std::string& where);

// Whether a thinker parameter name is an adapter factor (…lora_A / …lora_B).
bool is_lora_parameter(const std::string& name);
// Whether parameter `name` belongs to one of `modules` (e.g. modules_to_save).
bool under_module(const std::string& name, const std::vector<std::string>& modules);

// A fresh adapter factor: A random (deterministic for `seed` and the name), B zeros.
void init_lora_parameter(const std::string& name, at::Tensor& param, const LoraSpec& spec, uint64_t seed);

}  // namespace omnitune
