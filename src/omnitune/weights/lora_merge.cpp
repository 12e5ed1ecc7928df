#include "omnitune/weights/lora_merge.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/param_init.h"
#include "omnitune/weights/checkpoint_model.h"
#include "omnitune/weights/peft_adapter.h"

namespace omnitune {

namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The adapter's spec resolved on the model of config_text (built on the meta device: names and shapes only).
LoraSpec adapter_spec(const std::string& dir, const std::string& config_text) {
  MetaInit meta;
  Thinker thinker(read_thinker_config(parse_json(config_text, dir + "/config.json"), dir + "/config.json"));
  return read_peft_adapter_config(*thinker, dir + "/" + kCheckpointAdapterConfig);
}

}  // namespace

MergedThinker::MergedThinker(const std::string& dir, const std::string& config_text)
    : spec_(adapter_spec(dir, config_text)),
      base_(adapter_base(dir)),
      adapter_info_(read_checkpoint_info(dir)),
      adapter_(open_checkpoint_model(dir)) {
  if (is_hf_model_dir(base_)) {
    base_hf_.emplace(open_hf_model(base_));
  } else {
    const CheckpointLocation base = locate_checkpoint(base_);
    check_checkpoint_config(base.dir, config_text);
    base_info_ = read_checkpoint_info(base.dir);
    base_checkpoint_.emplace(open_checkpoint_model(base.dir));
  }
}

at::Tensor MergedThinker::rows(const TensorPieces& pieces, const CheckpointInfo& info, const std::string& param,
                               int64_t first, int64_t count) {
  const std::string name = checkpoint_tensor_name(param, info.dcp_prefix, info.hf_prefix);
  if (!pieces.contains(name)) throw Error(cat("the checkpoint has no tensor ", name));
  return pieces.read(name, first, count).to(at::kFloat);
}

at::Tensor MergedThinker::base_value(const ParamLayout& p, size_t k) const {
  if (base_hf_) return read_tensor(*base_hf_->weights, p.hf[k].name).to(at::kFloat);
  if (p.kind == ParamKind::kPlain) return rows(*base_checkpoint_, base_info_, p.name, 0, -1);
  return hf_view_of_slab(p, rows(*base_checkpoint_, base_info_, p.name, hf_expert(p, k), 1)[0], k);
}

at::Tensor MergedThinker::hf_tensor(const ParamLayout& p, size_t k) const {
  if (under_module(p.name, spec_.modules_to_save)) {  // trained whole: the checkpoint's value
    if (p.kind == ParamKind::kPlain) return rows(adapter_, adapter_info_, p.name, 0, -1);
    return hf_view_of_slab(p, rows(adapter_, adapter_info_, p.name, hf_expert(p, k), 1)[0], k).contiguous();
  }
  at::Tensor value = base_value(p, k);
  const double scaling = spec_.scaling();
  if (p.kind == ParamKind::kPlain) {
    const std::string module = p.name.substr(0, p.name.rfind('.'));
    if (p.name.ends_with(".weight") && contains(spec_.modules, module)) {  // [out, in] += s B [out, r] A [r, in]
      const at::Tensor a = rows(adapter_, adapter_info_, module + ".lora_A", 0, -1);
      const at::Tensor b = rows(adapter_, adapter_info_, module + ".lora_B", 0, -1);
      value = value + at::mm(b, a) * scaling;
    }
    return value;
  }
  if (!contains(spec_.parameters, p.name)) return value;
  const int64_t e = hf_expert(p, k);  // slab delta [in, out] = s A_e [in, r] B_e [r, out], viewed as the HF tensor
  const at::Tensor a = rows(adapter_, adapter_info_, p.name + "_lora_A", e, 1)[0];
  const at::Tensor b = rows(adapter_, adapter_info_, p.name + "_lora_B", e, 1)[0];
  return value + hf_view_of_slab(p, at::mm(a, b) * scaling, k);
}

}  // namespace omnitune
