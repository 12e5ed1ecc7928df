#include "omnitune/weights/hf_layout.h"

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const std::string kGateUp = "mlp.experts.gate_up_proj";
const std::string kDown = "mlp.experts.down_proj";

}  // namespace

std::vector<ParamLayout> thinker_layout(const ThinkerImpl& thinker) {
  std::vector<ParamLayout> out;
  for (const auto& item : thinker.named_parameters(true)) {
    ParamLayout p{item.key(), item.value().sizes().vec(), ParamKind::kPlain, {}};
    const std::string disk = "thinker." + p.name;
    if (ends_with(p.name, kGateUp)) {  // [E, H, 2I]
      p.kind = ParamKind::kExpertsGateUp;
      const std::string base = disk.substr(0, disk.size() - std::string("gate_up_proj").size());
      const int64_t hidden = p.shape[1], inter = p.shape[2] / 2;
      for (int64_t e = 0; e < p.shape[0]; ++e) {
        p.hf.push_back({cat(base, e, ".gate_proj.weight"), {inter, hidden}});
        p.hf.push_back({cat(base, e, ".up_proj.weight"), {inter, hidden}});
      }
    } else if (ends_with(p.name, kDown)) {  // [E, I, H]
      p.kind = ParamKind::kExpertsDown;
      const std::string base = disk.substr(0, disk.size() - std::string("down_proj").size());
      for (int64_t e = 0; e < p.shape[0]; ++e) p.hf.push_back({cat(base, e, ".down_proj.weight"), {p.shape[2], p.shape[1]}});
    } else {
      p.hf.push_back({disk, p.shape});
    }
    out.push_back(std::move(p));
  }
  return out;
}

bool is_talker_tensor(const std::string& hf_name) {
  return hf_name.rfind("talker.", 0) == 0 || hf_name.rfind("code2wav.", 0) == 0;
}

}  // namespace omnitune
