#include "omnitune/weights/peft_adapter.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "omnitune/core/config_file.h"
#include "omnitune/core/config_reader.h"
#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/core/output_paths.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/io/safetensors_file.h"
#include "omnitune/model/param_init.h"
#include "omnitune/weights/checkpoint_layout.h"
#include "omnitune/weights/checkpoint_model.h"
#include "omnitune/weights/hf_model.h"
#include "omnitune/weights/staged_dir.h"

namespace omnitune {

namespace fs = std::filesystem;

namespace {

const std::string kPrefix = "base_model.model.thinker.";  // Qwen3OmniMoeForConditionalGeneration
const std::string kThinkerPrefix = "base_model.model.";   // Qwen3OmniMoeThinkerForConditionalGeneration
const char* const kConfigFile = "adapter_config.json";
const char* const kWeightsFile = "adapter_model.safetensors";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// One adapter factor of the thinker and where PEFT keeps it.
struct PeftTensor {
  std::string param;    // thinker parameter (…lora_A / …lora_B, or a modules_to_save parameter)
  std::string key;      // PEFT key without the class prefix
  bool expert = false;  // a merged expert tensor's factor: layouts differ (see the header)
  bool merged = false;  // a modules_to_save merged expert tensor: [E, in, out] here, [E, out, in] in PEFT
};

std::vector<PeftTensor> peft_tensors(ThinkerImpl& thinker, const LoraSpec& spec) {
  std::set<std::string> names;
  for (const auto& item : thinker.named_parameters(true)) names.insert(item.key());
  std::vector<PeftTensor> out;
  for (const auto& item : thinker.named_parameters(true)) {
    const std::string& name = item.key();
    if (is_lora_parameter(name)) {
      const std::string factor = name.substr(name.size() - 6);   // lora_A / lora_B
      const std::string base = name.substr(0, name.size() - 7);  // module, or experts.<tensor> (dot or underscore)
      if (name[name.size() - 7] == '.') {
        out.push_back({name, base + "." + factor + ".weight"});
        continue;
      }
      const size_t dot = base.rfind('.');
      const std::string experts = base.substr(0, dot), tensor = base.substr(dot + 1);
      const bool nested = tensor == "gate_up_proj" && names.count(experts + ".down_proj_lora_A");
      out.push_back({name, experts + (nested ? ".base_layer." : ".") + factor + ".weight", true});
      continue;
    }
    for (const std::string& m : spec.modules_to_save)
      if (name.rfind(m + ".", 0) == 0)
        out.push_back(
            {name, name, false, ends_with(name, "experts.gate_up_proj") || ends_with(name, "experts.down_proj")});
  }
  return out;
}

// Ours -> PEFT's layout.
at::Tensor to_peft(const PeftTensor& t, const at::Tensor& x) {
  if (t.merged) return x.transpose(1, 2);
  if (!t.expert) return x;
  const int64_t experts = x.size(0);
  if (ends_with(t.param, "lora_A"))  // [E, in, r] -> [E * r, in]
    return x.permute({0, 2, 1}).reshape({experts * x.size(2), x.size(1)});
  return x.permute({2, 1, 0}).reshape({x.size(2), x.size(1) * experts});  // [E, r, out] -> [out, r * E]
}

// PEFT's layout -> ours (`shape`: ours).
at::Tensor from_peft(const PeftTensor& t, const at::Tensor& x, c10::IntArrayRef shape) {
  if (t.merged) return x.transpose(1, 2);
  if (!t.expert) return x;
  const int64_t experts = shape[0];
  if (ends_with(t.param, "lora_A"))  // [E * r, in] -> [E, r, in] -> [E, in, r]
    return x.reshape({experts, shape[2], shape[1]}).permute({0, 2, 1});
  return x.reshape({shape[2], shape[1], experts}).permute({2, 1, 0});  // [out, r * E] -> [out, r, E] -> [E, r, out]
}

std::vector<std::string> strings(const nlohmann::json& v) {
  if (v.is_null()) return {};
  if (v.is_string()) return {v.get<std::string>()};
  return v.get<std::vector<std::string>>();
}

// PEFT's rule for target_modules / exclude_modules: a string is "all-linear" or a regex over the whole name
// (the module's name within the class: with or without `thinker.`), a list names modules by their last parts.
bool peft_matches(const nlohmann::json& rule, const std::string& name) {
  if (rule.is_string()) {
    const std::regex re(rule.get<std::string>());
    return std::regex_match(name, re) || std::regex_match("thinker." + name, re);
  }
  for (const std::string& t : strings(rule))
    if (peft_name_matches(name, t)) return true;
  return false;
}

}  // namespace

nlohmann::json peft_adapter_config(const LoraSpec& spec, const std::string& base) {
  nlohmann::json saved = spec.modules_to_save.empty() ? nlohmann::json(nullptr) : nlohmann::json(spec.modules_to_save);
  return {{"peft_type", "LORA"},
          {"task_type", nullptr},
          {"auto_mapping",
           {{"base_model_class", "Qwen3OmniMoeForConditionalGeneration"},
            {"parent_library", "transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe"}}},
          {"base_model_name_or_path", base.empty() ? nlohmann::json(nullptr) : nlohmann::json(base)},
          {"r", spec.rank},
          {"lora_alpha", spec.alpha},
          {"lora_dropout", spec.dropout},
          {"use_rslora", spec.rslora},
          {"init_lora_weights", spec.gaussian_init ? nlohmann::json("gaussian") : nlohmann::json(true)},
          {"target_modules", spec.modules},
          {"target_parameters", spec.parameters},
          {"exclude_modules", nullptr},
          {"modules_to_save", saved},
          {"bias", "none"},
          {"fan_in_fan_out", false},
          {"use_dora", false},
          {"lora_bias", false},
          {"rank_pattern", nlohmann::json::object()},
          {"alpha_pattern", nlohmann::json::object()},
          {"layers_to_transform", nullptr},
          {"layers_pattern", nullptr},
          {"inference_mode", true},
          {"peft_version", "0.21.2"}};
}

std::string adapter_base(const std::string& dir) {
  const std::string path = dir + "/" + kCheckpointAdapterConfig;
  if (!fs::exists(path)) return "";
  const nlohmann::json config = load_json_file(path);
  const auto it = config.find("base_model_name_or_path");
  if (it == config.end() || !it->is_string() || it->get<std::string>().empty())
    throw Error(cat(path, ": base_model_name_or_path names no base model (the run started from a random ",
                    "initialisation?): the adapter cannot be applied"));
  return it->get<std::string>();
}

LoraSpec read_peft_adapter_config(ThinkerImpl& thinker, const std::string& path) {
  const nlohmann::json root = load_json_file(path);
  ConfigReader in(root, path);
  if (in.get<std::string>("peft_type", "LORA") != "LORA")
    in.fail("peft_type", "OmniTune reads LoRA adapters (peft_type \"LORA\")");
  LoraSpec spec;
  spec.rank = in.get<int64_t>("r", 8, at_least(1));
  spec.alpha = in.get<double>("lora_alpha", 8);
  spec.dropout = in.get<double>("lora_dropout", 0.0, between(0, 1));
  spec.rslora = in.get("use_rslora", false);
  for (const char* key : {"use_dora", "lora_bias", "fan_in_fan_out", "use_qalora", "use_bdlora"})
    if (in.get(key, false)) in.fail(key, "is not supported yet");
  for (const char* key : {"rank_pattern", "alpha_pattern"})
    if (in.has(key) && !in.raw(key).empty()) in.fail(key, "per-module ranks / alphas are not supported yet");
  for (const char* key : {"layers_to_transform", "layers_pattern", "trainable_token_indices", "layer_replication"})
    if (in.has(key)) in.fail(key, "is not supported yet");
  if (in.has("bias") && in.required<std::string>("bias") != "none") in.fail("bias", "only \"none\" is supported");
  const nlohmann::json targets = in.has("target_modules") ? in.raw("target_modules") : nlohmann::json(nullptr);
  const nlohmann::json exclude = in.has("exclude_modules") ? in.raw("exclude_modules") : nlohmann::json(nullptr);
  const bool all_linear = targets.is_string() && targets.get<std::string>() == "all-linear";
  for (const std::string& name : lora_linear_layers(thinker, all_linear))
    if ((all_linear || (!targets.is_null() && peft_matches(targets, name))) &&
        !(!exclude.is_null() && peft_matches(exclude, name)))
      spec.modules.push_back(name);
  const std::vector<std::string> parameters =
      in.has("target_parameters") ? strings(in.raw("target_parameters")) : std::vector<std::string>{};
  for (const std::string& name : lora_expert_tensors(thinker))
    for (const std::string& t : parameters)
      if (peft_name_matches(name, t)) {
        spec.parameters.push_back(name);
        break;
      }
  const std::vector<std::string> saved =
      in.has("modules_to_save") ? strings(in.raw("modules_to_save")) : std::vector<std::string>{};
  for (const auto& item : thinker.named_modules("", /*include_self=*/false))
    for (const std::string& t : saved)
      if (peft_name_matches(item.key(), t)) {
        spec.modules_to_save.push_back(item.key());
        break;
      }
  if (spec.modules.empty() && spec.parameters.empty())
    throw Error(path + ": the adapter's target_modules / target_parameters match no layer of the model");
  for (const auto& item : root.items()) in.accept(item.key());  // PEFT writes many keys that change nothing here
  return spec;
}

NamedTensors peft_adapter_tensors(ThinkerImpl& thinker, const LoraSpec& spec, const ParamValue& value) {
  NamedTensors out;
  at::NoGradGuard no_grad;
  for (const PeftTensor& t : peft_tensors(thinker, spec))
    out.emplace_back(kPrefix + t.key, to_peft(t, value(t.param)).to(at::kCPU, at::kFloat).contiguous());
  return out;
}

NamedTensors peft_adapter_tensors(ThinkerImpl& thinker, const LoraSpec& spec) {
  std::map<std::string, at::Tensor> params;
  for (const auto& item : thinker.named_parameters(true)) params[item.key()] = item.value().detach();
  return peft_adapter_tensors(thinker, spec, [&](const std::string& name) { return params.at(name); });
}

void write_peft_adapter(const NamedTensors& tensors, const LoraSpec& spec, const std::string& base,
                        const std::string& dir, bool overwrite) {
  require_new_output(dir, overwrite, "it");
  const fs::path save = fs::absolute(dir).lexically_normal();
  StagedDir staged(save.parent_path().string(), save.filename().string());
  save_tensors(staged.dir() + "/" + kWeightsFile, tensors, {{"format", "pt"}});
  write_file_atomic(staged.dir() + "/" + kConfigFile, peft_adapter_config(spec, base).dump(2) + "\n");
  staged.commit();
}

void convert_dcp_to_peft(const std::string& dcp_dir, const std::string& save_dir, bool overwrite) {
  const CheckpointLocation location = locate_checkpoint(dcp_dir);
  const std::string adapter_config = location.dir + "/" + kCheckpointAdapterConfig;
  if (!fs::exists(adapter_config))
    throw Error(cat(location.dir, ": no ", kCheckpointAdapterConfig, " (not the checkpoint of a LoRA run)"));
  check_output_is_not_input({"--save-dir", save_dir}, {{"--dcp-dir", dcp_dir}});
  const std::string config_text = checkpoint_config_text(location.dir);
  Thinker thinker{nullptr};
  {
    MetaInit meta;  // names and shapes only: the adapter's tensors are read from the checkpoint
    thinker = Thinker(
        read_thinker_config(parse_json(config_text, location.dir + "/config.json"), location.dir + "/config.json"));
  }
  LoraSpec spec = read_peft_adapter_config(*thinker, adapter_config);
  {
    MetaInit meta;
    add_lora(*thinker, spec, adapter_config);
  }
  const CheckpointModel model(*thinker, location.dir, config_text);
  std::map<std::string, at::Tensor> params;
  for (const auto& item : thinker->named_parameters(true)) params[item.key()] = item.value();
  const NamedTensors tensors = peft_adapter_tensors(*thinker, spec, [&](const std::string& name) {
    at::Tensor value = at::empty(params.at(name).sizes(), at::kFloat);
    model.read_rows(name, 0, value);
    return value;
  });
  const std::string base = adapter_base(location.dir);  // PEFT's AutoPeftModel loads a Hugging Face base from it
  write_peft_adapter(tensors, spec, is_hf_model_dir(base) ? base : "", save_dir, overwrite);
  log_info(cat("dcp-to-peft: wrote ", tensors.size(), " adapter tensors of ", location.dir, " to ", save_dir));
}

LoraSpec attach_peft_adapter(ThinkerImpl& thinker, const std::string& dir) {
  const std::string config = (fs::path(dir) / kConfigFile).string(), weights = (fs::path(dir) / kWeightsFile).string();
  if (!fs::exists(config)) throw Error(cat(dir, ": no ", kConfigFile, " (not a PEFT adapter directory)"));
  if (!fs::exists(weights)) throw Error(cat(dir, ": no ", kWeightsFile, " (OmniTune reads safetensors adapters)"));
  LoraSpec spec = read_peft_adapter_config(thinker, config);
  add_lora(thinker, spec, config);
  return spec;
}

LoraSpec load_peft_adapter(ThinkerImpl& thinker, const std::string& dir) {
  LoraSpec spec = attach_peft_adapter(thinker, dir);
  read_peft_adapter_values(thinker, spec, dir);
  return spec;
}

void read_peft_adapter_values(ThinkerImpl& thinker, const LoraSpec& spec, const std::string& dir) {
  const std::string weights = (fs::path(dir) / kWeightsFile).string();
  const SafetensorsFile file(weights);
  std::string prefix = kPrefix;
  if (!file.tensors().empty() && file.tensors().front().name.rfind(kPrefix, 0) != 0) prefix = kThinkerPrefix;
  std::map<std::string, at::Tensor> params;
  for (const auto& item : thinker.named_parameters(true)) params[item.key()] = item.value();
  std::set<std::string> used;
  std::vector<std::string> missing, shapes;
  at::NoGradGuard no_grad;
  for (const PeftTensor& t : peft_tensors(thinker, spec)) {
    const TensorEntry* entry = file.find(prefix + t.key);
    if (!entry) {
      missing.push_back(prefix + t.key);
      continue;
    }
    used.insert(entry->name);
    at::Tensor& param = params.at(t.param);
    const at::Tensor value = read_tensor(file, *entry);
    const std::vector<int64_t> expected = to_peft(t, param.detach()).sizes().vec();
    if (value.sizes().vec() != expected) {
      shapes.push_back(cat(entry->name, " ", value.sizes(), " (expected ", c10::IntArrayRef(expected), ")"));
      continue;
    }
    param.copy_(from_peft(t, value, param.sizes()));
  }
  std::vector<std::string> unexpected;
  for (const TensorEntry& e : file.tensors())
    if (!used.count(e.name)) unexpected.push_back(e.name);
  if (!missing.empty() || !shapes.empty() || !unexpected.empty())
    throw Error(cat(weights, ": does not fit its adapter_config.json on this model; missing: ", missing.size(),
                    missing.empty() ? "" : " (first " + missing.front() + ")", "; mis-shaped: ", shapes.size(),
                    shapes.empty() ? "" : " (first " + shapes.front() + ")", "; unexpected: ", unexpected.size(),
                    unexpected.empty() ? "" : " (first " + unexpected.front() + ")"));
}

}  // namespace omnitune
