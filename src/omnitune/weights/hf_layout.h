// weights/hf_layout: where each thinker parameter lives in a Hugging Face checkpoint — under
// `thinker.<name>`, except the merged experts (see model/moe.h), which are stored one tensor per expert:
//   mlp.experts.gate_up_proj [E, H, 2I]  <-  thinker.<layer>.mlp.experts.{e}.gate_proj.weight [I, H],
//                                            thinker.<layer>.mlp.experts.{e}.up_proj.weight   [I, H]
//                                            (gate_up_proj[e] = [gate^T | up^T])
//   mlp.experts.down_proj    [E, I, H]   <-  thinker.<layer>.mlp.experts.{e}.down_proj.weight [H, I]  (down^T)
#pragma once

#include <string>
#include <vector>

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

// Every parameter of `thinker` (any device, the meta device included), in registration order.
std::vector<ParamLayout> thinker_layout(const ThinkerImpl& thinker);

// True for the Hugging Face tensors that are not the thinker's: talker.* and code2wav.*.
bool is_talker_tensor(const std::string& hf_name);

}  // namespace omnitune
