#include "omnitune/model/hf_checkpoint.h"

#include <ATen/ATen.h>

#include <set>

#include "omnitune/core/error.h"
#include "omnitune/io/qwen3_omni_names.h"
#include "omnitune/model/hf_layout.h"
#include "omnitune/model/load_module.h"
#include "omnitune/model/lora.h"

namespace omnitune {

HfThinkerReader::HfThinkerReader(const std::string& path) : path_(path), ckpt_(path) {
  for (const auto& name : ckpt_.names()) prefixed_ = prefixed_ || name.rfind(kThinkerPrefix, 0) == 0;
}

std::string HfThinkerReader::disk_name(const std::string& hf) const {
  return prefixed_ ? hf : hf.substr(std::string(kThinkerPrefix).size());
}

// Reads one tensor (zero-copy view), checking presence, dtype and shape; undefined when not usable.
at::Tensor HfThinkerReader::take(const std::string& name, c10::IntArrayRef shape) {
  if (!ckpt_.contains(name)) {
    problems_.missing.push_back(name);
    return {};
  }
  used_.insert(name);
  at::Tensor t = read_tensor(ckpt_, name);
  if (!problems_.check_dtype(name, t)) return {};
  problems_.check_shape(name, t, shape);
  return t.sizes() == shape ? t : at::Tensor();
}

void HfThinkerReader::fill(const std::string& name, at::Tensor& param) {
  at::NoGradGuard no_grad;
  const ParamLayout p = param_layout(name, param.sizes().vec());
  if (p.kind != ParamKind::kPlain) {
    // transformers-5's own memory layout, saved as is: one fused tensor [E, 2I, H] / [E, H, I] (ours transposed).
    const std::string fused = disk_name(kThinkerPrefix + p.name);
    if (ckpt_.contains(fused)) {
      if (at::Tensor t = take(fused, {p.shape[0], p.shape[2], p.shape[1]}); t.defined()) {
        param.copy_(t.transpose(1, 2));
        report_.loaded += 1;
      }
      return;
    }
  }
  for (size_t k = 0; k < p.hf.size(); ++k) {
    if (at::Tensor t = take(disk_name(p.hf[k].name), p.hf[k].shape); t.defined()) {
      hf_view(p, param, k).copy_(t);
      report_.loaded += 1;
    }
  }
}

LoadReport HfThinkerReader::finish() {
  for (const auto& name : ckpt_.names()) {
    if (used_.count(name)) continue;
    if (is_talker_tensor(name)) {
      report_.ignored_talker += 1;
      continue;
    }
    problems_.unexpected.push_back(name);
  }
  problems_.throw_if_any(path_);
  return report_;
}

LoadReport load_hf_thinker(ThinkerImpl& thinker, const std::string& path) {
  HfThinkerReader reader(path);
  for (auto& item : thinker.named_parameters(true))
    if (!is_lora_parameter(item.key())) reader.fill(item.key(), item.value());
  return reader.finish();
}

NamedTensors hf_thinker_tensors(const ThinkerImpl& thinker, at::ScalarType dtype, bool grads) {
  NamedTensors out;
  at::NoGradGuard no_grad;
  for (const auto& item : thinker.named_parameters(true)) {
    if (is_lora_parameter(item.key())) continue;
    at::Tensor p = item.value().detach();
    if (grads) p = item.value().grad().defined() ? item.value().grad() : at::zeros_like(p);
    const ParamLayout layout = param_layout(item.key(), p.sizes().vec());
    for (size_t k = 0; k < layout.hf.size(); ++k)
      out.emplace_back(layout.hf[k].name, hf_view(layout, p, k).contiguous().to(dtype));
  }
  return out;
}

ThinkerInit::ThinkerInit(const ThinkerImpl& thinker, uint64_t seed, double std)
    : pad_(thinker.model->embed_tokens->padding_idx), std_(std) {
  at::manual_seed(seed);
}

void ThinkerInit::fill(const std::string& name, at::Tensor& p) {
  at::NoGradGuard no_grad;
  bool is_norm = name.find("norm") != std::string::npos || name.find("ln_") != std::string::npos;
  if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
    p.zero_();
  else if (is_norm && p.dim() == 1)
    p.fill_(1.0);
  else
    p.normal_(0.0, std_);
  // As transformers' _init_weights: the padding token's embedding row starts at zero.
  if (name == "model.embed_tokens.weight" && pad_ >= 0) p[pad_].zero_();
}

void init_thinker_weights(ThinkerImpl& thinker, uint64_t seed, double std) {
  ThinkerInit init(thinker, seed, std);
  for (auto& item : thinker.named_parameters(true))
    if (!is_lora_parameter(item.key())) init.fill(item.key(), item.value());
}

}  // namespace omnitune
