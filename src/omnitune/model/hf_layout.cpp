#include "omnitune/model/hf_layout.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"
#include "omnitune/io/qwen3_omni_names.h"

namespace omnitune {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const std::string kGateUp = "mlp.experts.gate_up_proj";  // the merged tensors' names end so
const std::string kDown = "mlp.experts.down_proj";
// thinker.<layer>.mlp.experts. : the common start of the per-expert names.
std::string experts_base(const std::string& name, const std::string& merged) {
  return kThinkerPrefix + name.substr(0, name.size() - merged.size()) + "mlp.experts.";
}

}  // namespace

ParamLayout param_layout(const std::string& name, const std::vector<int64_t>& shape) {
  ParamLayout p{name, shape, ParamKind::kPlain, {}};
  if (ends_with(name, kGateUp)) {  // [E, H, 2I]
    p.kind = ParamKind::kExpertsGateUp;
    const std::string base = experts_base(name, kGateUp);
    const int64_t hidden = shape[1], inter = shape[2] / 2;
    for (int64_t e = 0; e < shape[0]; ++e) {
      p.hf.push_back({cat(base, e, ".gate_proj.weight"), {inter, hidden}});
      p.hf.push_back({cat(base, e, ".up_proj.weight"), {inter, hidden}});
    }
  } else if (ends_with(name, kDown)) {  // [E, I, H]
    p.kind = ParamKind::kExpertsDown;
    const std::string base = experts_base(name, kDown);
    for (int64_t e = 0; e < shape[0]; ++e) p.hf.push_back({cat(base, e, ".down_proj.weight"), {shape[2], shape[1]}});
  } else {
    p.hf.push_back({kThinkerPrefix + name, shape});
  }
  return p;
}

std::vector<ParamLayout> thinker_layout(const ThinkerImpl& thinker) {
  std::vector<ParamLayout> out;
  for (const auto& item : thinker.named_parameters(true))
    out.push_back(param_layout(item.key(), item.value().sizes().vec()));
  return out;
}

int64_t hf_expert(const ParamLayout& p, size_t k) {
  return p.kind == ParamKind::kExpertsGateUp ? static_cast<int64_t>(k / 2) : static_cast<int64_t>(k);
}

at::Tensor hf_view_of_slab(const ParamLayout& p, const at::Tensor& slab, size_t k) {
  if (p.kind == ParamKind::kExpertsDown) return slab.t();  // [H, I]
  const int64_t inter = p.shape[2] / 2;
  return slab.narrow(1, static_cast<int64_t>(k % 2) * inter, inter).t();  // [I, H]: gate, then up
}

at::Tensor hf_view(const ParamLayout& p, const at::Tensor& param, size_t k) {
  if (p.kind == ParamKind::kPlain) return param;
  return hf_view_of_slab(p, param[hf_expert(p, k)], k);
}

}  // namespace omnitune
