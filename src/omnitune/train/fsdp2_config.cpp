#include "omnitune/train/fsdp2_config.h"

#include "omnitune/core/config_file.h"
#include "omnitune/core/config_reader.h"
#include "omnitune/core/enum_names.h"

namespace omnitune {

namespace {
// The seed's spellings (PyTorch's and the short ones); the first of each value is its name.
const EnumNames<Precision> kPrecisionNames = {
    {Precision::kBFloat16, "bf16"},           {Precision::kBFloat16, "bfloat16"},
    {Precision::kBFloat16, "torch.bfloat16"}, {Precision::kFloat32, "fp32"},
    {Precision::kFloat32, "float32"},         {Precision::kFloat32, "float"},
    {Precision::kFloat32, "torch.float32"},   {Precision::kFloat16, "fp16"},
    {Precision::kFloat16, "float16"},         {Precision::kFloat16, "half"},
    {Precision::kFloat16, "torch.float16"}};
}  // namespace

Precision parse_precision(const std::string& text, const std::string& where) {
  return parse_enum(kPrecisionNames, text, where, "dtype");
}

const char* precision_name(Precision p) { return enum_name(kPrecisionNames, p); }

Fsdp2Config load_fsdp2_config(const std::string& yaml_path) {
  return read_fsdp2_config(load_yaml_file(yaml_path), yaml_path);
}

Fsdp2Config read_fsdp2_config(nlohmann::json root, const std::string& yaml_path) {
  if (root.is_null()) root = nlohmann::json::object();  // an empty file means all defaults
  ConfigReader in(root, yaml_path);
  Fsdp2Config c;

  if (in.has("sharding_size")) {
    const nlohmann::json& v = in.raw("sharding_size");
    if (v.is_string()) {
      if (v.get<std::string>() != "auto")
        in.fail("sharding_size", "expected 'auto' or a positive integer, got " + describe_json(v));
    } else {
      c.sharding_size = json_as<int>(v, in.where("sharding_size"));
      in.check<int64_t>("sharding_size", *c.sharding_size, at_least(1));
    }
  } else if (root.contains("sharding_size")) {
    c.sharding_size = 1;  // explicit null: no sharding, as in the seed
  }
  c.reshard_after_forward = in.get("reshard_after_forward", c.reshard_after_forward);
  auto precision = [&](const std::string& key, Precision fallback) {
    auto text = in.optional<std::string>(key);
    return text ? parse_precision(*text, in.where(key)) : fallback;
  };
  c.param_dtype = precision("param_dtype", c.param_dtype);
  c.reduce_dtype = precision("reduce_dtype", c.reduce_dtype);
  if (auto text = in.optional<std::string>("output_dtype"))
    c.output_dtype = parse_precision(*text, in.where("output_dtype"));
  c.cast_forward_inputs = in.get("cast_forward_inputs", c.cast_forward_inputs);
  c.num_to_forward_prefetch =
      static_cast<int>(in.get<int64_t>("num_to_forward_prefetch", c.num_to_forward_prefetch, between(0, 64)));
  c.num_to_backward_prefetch =
      static_cast<int>(in.get<int64_t>("num_to_backward_prefetch", c.num_to_backward_prefetch, between(0, 64)));
  c.offload_to_cpu = in.get("offload_to_cpu", c.offload_to_cpu);
  c.pin_memory = in.get("pin_memory", c.pin_memory);
  c.ignored_modules = in.get("ignored_modules", c.ignored_modules);

  // Generic Fsdp2Config keys that the seed's Qwen3-Omni wrapping never reads.
  for (const char* key : {"recompute_modules", "use_reentrant", "sub_modules_to_wrap", "align_fsdp_param_groups",
                          "expert_parallel_size", "reshard_local_experts", "moe_modules"}) {
    in.accept(key);
    if (root.contains(key)) c.ignored.push_back(key);
  }
  in.finish();
  return c;
}

}  // namespace omnitune
