#include "omnitune/model/hf_checkpoint.h"

#include <ATen/ATen.h>

#include <set>

#include "omnitune/core/error.h"
#include "omnitune/io/qwen3_omni_names.h"
#include "omnitune/model/hf_layout.h"
#include "omnitune/model/load_module.h"

namespace omnitune {

LoadReport load_hf_thinker(ThinkerImpl& thinker, const std::string& path) {
  SafetensorsCheckpoint ckpt(path);
  bool prefixed = false;  // a full checkpoint (thinker.*) or a bare thinker's
  for (const auto& name : ckpt.names()) prefixed = prefixed || name.rfind(kThinkerPrefix, 0) == 0;
  auto disk_name = [&](const std::string& hf) { return prefixed ? hf : hf.substr(std::string(kThinkerPrefix).size()); };
  std::set<std::string> used;
  LoadProblems problems;
  LoadReport report;
  at::NoGradGuard no_grad;
  // Reads one tensor (zero-copy view), checking presence, dtype and shape; undefined when not usable.
  auto take = [&](const std::string& name, c10::IntArrayRef shape) -> at::Tensor {
    if (!ckpt.contains(name)) {
      problems.missing.push_back(name);
      return {};
    }
    used.insert(name);
    at::Tensor t = read_tensor(ckpt, name);
    if (!problems.check_dtype(name, t)) return {};
    problems.check_shape(name, t, shape);
    return t.sizes() == shape ? t : at::Tensor();
  };

  for (auto& item : thinker.named_parameters(true)) {
    at::Tensor param = item.value();
    const ParamLayout p = param_layout(item.key(), param.sizes().vec());
    if (p.kind != ParamKind::kPlain) {
      // transformers-5's own memory layout, saved as is: one fused tensor [E, 2I, H] / [E, H, I] (ours transposed).
      const std::string fused = disk_name(kThinkerPrefix + p.name);
      if (ckpt.contains(fused)) {
        if (at::Tensor t = take(fused, {p.shape[0], p.shape[2], p.shape[1]}); t.defined()) {
          param.copy_(t.transpose(1, 2));
          report.loaded += 1;
        }
        continue;
      }
    }
    for (size_t k = 0; k < p.hf.size(); ++k) {
      if (at::Tensor t = take(disk_name(p.hf[k].name), p.hf[k].shape); t.defined()) {
        hf_view(p, param, k).copy_(t);
        report.loaded += 1;
      }
    }
  }
  for (const auto& name : ckpt.names()) {
    if (used.count(name)) continue;
    if (is_talker_tensor(name)) {
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
    at::Tensor p = item.value().detach();
    if (grads) p = item.value().grad().defined() ? item.value().grad() : at::zeros_like(p);
    const ParamLayout layout = param_layout(item.key(), p.sizes().vec());
    for (size_t k = 0; k < layout.hf.size(); ++k)
      out.emplace_back(layout.hf[k].name, hf_view(layout, p, k).contiguous().to(dtype));
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
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
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
