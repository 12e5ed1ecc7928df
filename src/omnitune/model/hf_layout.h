// model/hf_layout: where each thinker parameter lives in a Hugging Face checkpoint — the per-parameter part
// of the name table (io/qwen3_omni_names.h has the prefixes), walked by loading, export and conversion.
// A parameter is stored under `thinker.<name>`, except the merged experts (see moe.h), stored one tensor per
// expert:
//   mlp.experts.gate_up_proj [E, H, 2I]  <->  thinker.<layer>.mlp.experts.{e}.gate_proj.weight [I, H],
//                                              thinker.<layer>.mlp.experts.{e}.up_proj.weight   [I, H]
//                                              (slab e = gate_up_proj[e] = [gate_e^T | up_e^T])
//   mlp.experts.down_proj    [E, I, H]   <->  thinker.<layer>.mlp.experts.{e}.down_proj.weight [H, I]  (down_e^T)
#pragma once

#include <string>
#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/model/thinker.h"

namespace omnitune {

enum class ParamKind { kPlain, kExpertsGateUp, kExpertsDown };

struct HfTensor {
  std::string name;
  std::vector<int64_t> shape;
};

struct ParamLayout {
  std::string name;            // in-memory name (HF name without `thinker.`)
  std::vector<int64_t> shape;  // in-memory shape
  ParamKind kind = ParamKind::kPlain;
  // plain: {thinker.<name>}; gate_up: gate_0, up_0, gate_1, up_1, ...; down: down_0, down_1, ...
  std::vector<HfTensor> hf;
};

// The layout of the in-memory parameter `name` of shape `shape`.
ParamLayout param_layout(const std::string& name, const std::vector<int64_t>& shape);

// Every parameter of `thinker` (any device, the meta device included), in registration order.
std::vector<ParamLayout> thinker_layout(const ThinkerImpl& thinker);

// HF tensor k of a merged expert parameter as a view of its expert's slab (slab = param[e], [H, 2I] or
// [I, H]; e = hf_expert(p, k)): gate_e^T, up_e^T or down_e^T, shaped as p.hf[k]. Writing into it writes
// the slab.
int64_t hf_expert(const ParamLayout& p, size_t k);
at::Tensor hf_view_of_slab(const ParamLayout& p, const at::Tensor& slab, size_t k);
// HF tensor k of any parameter as a view of it (the parameter itself when plain).
at::Tensor hf_view(const ParamLayout& p, const at::Tensor& param, size_t k);

}  // namespace omnitune
