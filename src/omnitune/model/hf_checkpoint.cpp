#include "omnitune/model/hf_checkpoint.h"

#include <ATen/ATen.h>

#include <set>

#include "omnitune/core/error.h"
#include "omnitune/model/load_module.h"

namespace omnitune {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

const std::string kGateUp = "mlp.experts.gate_up_proj";
const std::string kDown = "mlp.experts.down_proj";

}  // namespace

LoadReport load_hf_thinker(ThinkerImpl& thinker, const std::string& path) {
  SafetensorsCheckpoint ckpt(path);
  std::string prefix;
  for (const auto& name : ckpt.names())
    if (starts_with(name, "thinker.")) prefix = "thinker.";
  std::set<std::string> used;
  LoadProblems problems;
  LoadReport report;
  at::NoGradGuard no_grad;
  // Reads one tensor (zero-copy view), checking presence and dtype; undefined when not usable.
  auto take = [&](const std::string& name) -> at::Tensor {
    if (!ckpt.contains(name)) {
      problems.missing.push_back(name);
      return {};
    }
    used.insert(name);
    at::Tensor t = read_tensor(ckpt, name);
    return problems.check_dtype(name, t) ? t : at::Tensor();
  };

  for (auto& item : thinker.named_parameters(true)) {
    const std::string& name = item.key();
    at::Tensor param = item.value();
    const std::string disk = prefix + name;
    if (ends_with(name, kGateUp) || ends_with(name, kDown)) {
      bool gate_up = ends_with(name, kGateUp);
      const int64_t experts = param.size(0), inter = gate_up ? param.size(2) / 2 : param.size(1);
      const int64_t hidden = gate_up ? param.size(1) : param.size(2);
      if (ckpt.contains(disk)) {  // fused layout: [E, 2I, H] / [E, H, I]
        at::Tensor t = take(disk);
        if (!t.defined()) continue;
        problems.check_shape(disk, t, {experts, gate_up ? 2 * inter : hidden, gate_up ? hidden : inter});
        if (t.sizes() == c10::IntArrayRef({experts, gate_up ? 2 * inter : hidden, gate_up ? hidden : inter}))
          param.copy_(t.transpose(1, 2));
        continue;
      }
      const std::string base = disk.substr(0, disk.size() - (gate_up ? std::string("gate_up_proj") : std::string("down_proj")).size());
      for (int64_t e = 0; e < experts; ++e) {
        const std::string expert = cat(base, e, ".");
        if (gate_up) {
          at::Tensor g = take(expert + "gate_proj.weight"), u = take(expert + "up_proj.weight");
          if (g.defined()) problems.check_shape(expert + "gate_proj.weight", g, {inter, hidden});
          if (u.defined()) problems.check_shape(expert + "up_proj.weight", u, {inter, hidden});
          if (g.defined() && u.defined() && g.sizes() == c10::IntArrayRef({inter, hidden}) && u.sizes() == g.sizes()) {
            param[e].slice(1, 0, inter).copy_(g.t());
            param[e].slice(1, inter).copy_(u.t());
            report.loaded += 2;
          }
        } else {
          at::Tensor d = take(expert + "down_proj.weight");
          if (d.defined()) problems.check_shape(expert + "down_proj.weight", d, {hidden, inter});
          if (d.defined() && d.sizes() == c10::IntArrayRef({hidden, inter})) {
            param[e].copy_(d.t());
            report.loaded += 1;
          }
        }
      }
      continue;
    }
    at::Tensor t = take(disk);
    if (!t.defined()) continue;
    problems.check_shape(disk, t, param.sizes());
    if (t.sizes() == param.sizes()) {
      param.copy_(t);
      report.loaded += 1;
    }
  }
  for (const auto& name : ckpt.names()) {
    if (used.count(name)) continue;
    if (starts_with(name, "talker.") || starts_with(name, "code2wav.")) {
      report.ignored_talker += 1;
      continue;
    }
    problems.unexpected.push_back(name);
  }
  problems.throw_if_any(path);
  return report;
}

NamedTensors hf_thinker_tensors(const ThinkerImpl& thinker, at::ScalarType dtype, bool grads) {
  NamedTensors out;
  at::NoGradGuard no_grad;
  for (const auto& item : thinker.named_parameters(true)) {
    const std::string& name = item.key();
    at::Tensor p = item.value().detach();
    if (grads) p = item.value().grad().defined() ? item.value().grad() : at::zeros_like(p);
    if (ends_with(name, kGateUp)) {
      const std::string base = "thinker." + name.substr(0, name.size() - std::string("gate_up_proj").size());
      const int64_t inter = p.size(2) / 2;
      for (int64_t e = 0; e < p.size(0); ++e) {
        out.emplace_back(cat(base, e, ".gate_proj.weight"), p[e].slice(1, 0, inter).t().contiguous().to(dtype));
        out.emplace_back(cat(base, e, ".up_proj.weight"), p[e].slice(1, inter).t().contiguous().to(dtype));
      }
    } else if (ends_with(name, kDown)) {
      const std::string base = "thinker." + name.substr(0, name.size() - std::string("down_proj").size());
      for (int64_t e = 0; e < p.size(0); ++e) out.emplace_back(cat(base, e, ".down_proj.weight"), p[e].t().contiguous().to(dtype));
    } else {
      out.emplace_back("thinker." + name, p.to(dtype));
    }
  }
  return out;
}

void init_thinker_weights(ThinkerImpl& thinker, uint64_t seed, double std) {
  at::NoGradGuard no_grad;
  at::manual_seed(seed);
  for (auto& item : thinker.named_parameters(true)) {
    const std::string& name = item.key();
    at::Tensor p = item.value();
    bool is_norm = name.find("norm") != std::string::npos || name.find("ln_") != std::string::npos;
    if (ends_with(name, ".bias"))
      p.zero_();
    else if (is_norm && p.dim() == 1)
      p.fill_(1.0);
    else
      p.normal_(0.0, std);
  }
  // As transformers' _init_weights: the padding token's embedding row starts at zero.
  const int64_t pad = thinker.model->embed_tokens->padding_idx;
  if (pad >= 0) thinker.model->embed_tokens->weight[pad].zero_();
}

}  // namespace omnitune
