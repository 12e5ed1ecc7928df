// omnitune convert: Hugging Face checkpoint <-> training checkpoint. `hf-to-dcp` / `dcp-to-hf`, a LoRA
// checkpoint's adapter as PEFT's (`dcp-to-peft`), and the
// seed's spelling `convert ExpertMergeDcpConverter hf_to_dcp|dcp_to_hf --hf_dir ...` (every option
// also takes its underscore form).
#include <memory>

#include <CLI/CLI.hpp>

#include "omnitune/cli/commands.h"
#include "omnitune/core/error.h"
#include "omnitune/io/safetensors_checkpoint.h"
#include "omnitune/weights/convert.h"
#include "omnitune/weights/peft_adapter.h"

namespace omnitune {

namespace {

struct HfToDcpArgs {
  HfToDcpOptions options;
  std::string max_shard_size = "4GB";
};

struct DcpToPeftArgs {
  std::string dcp_dir, save_dir;
  bool overwrite = false;
};

struct DcpToHfArgs {
  DcpToHfOptions options;
  std::string dtype, max_shard_size = "4GB";
};

CLI::App* add_hf_to_dcp(CLI::App& parent, const std::string& name, HfToDcpArgs& a) {
  CLI::App* sub = parent.add_subcommand(name,
                                        "Hugging Face model -> training checkpoint <save-dir>/release (weights only, "
                                        "experts merged, fp32), the start of `omnitune train --load`");
  sub->add_option("--hf-dir,--hf_dir", a.options.hf_dir, "Hugging Face model directory (config.json + safetensors)")
      ->required();
  sub->add_option("--save-dir,--save_dir", a.options.save_dir, "Checkpoint save directory")->required();
  sub->add_option("--dcp-prefix,--dcp_prefix", a.options.dcp_prefix,
                  "Prefix of the checkpoint tensor names (recorded in "
                  "checkpoint.json)")
      ->capture_default_str();
  sub->add_option("--hf-prefix,--hf_prefix", a.options.hf_prefix,
                  "When set, its first occurrence in each name is replaced by --dcp-prefix instead of prepending it");
  sub->add_option("--max-shard-size,--max_shard_size", a.max_shard_size, "Largest safetensors file")
      ->capture_default_str();
  sub->add_flag("--overwrite", a.options.overwrite,
                "Replace <save-dir>/release and the tracker when <save-dir> is not empty");
  return sub;
}

CLI::App* add_dcp_to_hf(CLI::App& parent, const std::string& name, DcpToHfArgs& a) {
  CLI::App* sub = parent.add_subcommand(name,
                                        "Training checkpoint -> complete Hugging Face model directory (per-expert "
                                        "tensors, the original's dtypes, talker and every other file of the original)");
  sub->add_option("--hf-dir,--hf_dir", a.options.hf_dir, "The original Hugging Face model directory")->required();
  sub->add_option("--dcp-dir,--dcp_dir", a.options.dcp_dir, "Checkpoint: a save directory, or its iter_N or release")
      ->required();
  sub->add_option("--save-dir,--save_dir", a.options.save_dir, "Output directory")->required();
  sub->add_option("--dtype", a.dtype,
                  "bf16, fp16 or fp32 for the thinker tensors (default: each original tensor's dtype)");
  sub->add_option("--max-shard-size,--max_shard_size", a.max_shard_size, "Largest safetensors shard")
      ->capture_default_str();
  sub->add_flag("--overwrite", a.options.overwrite, "Replace <save-dir> when it exists and is not empty");
  return sub;
}

CLI::App* add_dcp_to_peft(CLI::App& parent, DcpToPeftArgs& a) {
  CLI::App* sub = parent.add_subcommand("dcp-to-peft",
                                        "A LoRA run's training checkpoint -> its adapter as PEFT writes one "
                                        "(adapter_config.json + adapter_model.safetensors; PeftModel.from_pretrained "
                                        "loads it on Qwen3OmniMoeForConditionalGeneration)");
  sub->add_option("--dcp-dir,--dcp_dir", a.dcp_dir, "Checkpoint: a save directory, or its iter_N")->required();
  sub->add_option("--save-dir,--save_dir", a.save_dir, "Output directory")->required();
  sub->add_flag("--overwrite", a.overwrite, "Replace <save-dir> when it exists and is not empty");
  return sub;
}

std::optional<DType> parse_export_dtype(const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (text == "bf16") return DType::kBF16;
  if (text == "fp16") return DType::kF16;
  if (text == "fp32") return DType::kF32;
  throw Error("--dtype: '" + text + "' is not bf16, fp16 or fp32");
}

}  // namespace

Subcommand register_convert(CLI::App& app) {
  auto h = std::make_shared<HfToDcpArgs>();
  auto d = std::make_shared<DcpToHfArgs>();
  CLI::App* convert =
      app.add_subcommand("convert", "Convert between Hugging Face checkpoints and training checkpoints");
  convert->require_subcommand(1);
  CLI::App* seed = convert->add_subcommand("ExpertMergeDcpConverter", "The seed's spelling: hf_to_dcp / dcp_to_hf");
  seed->require_subcommand(1);
  CLI::App* hf_to_dcp[] = {add_hf_to_dcp(*convert, "hf-to-dcp", *h), add_hf_to_dcp(*seed, "hf_to_dcp", *h)};
  add_dcp_to_hf(*convert, "dcp-to-hf", *d);  // run when hf-to-dcp was not
  add_dcp_to_hf(*seed, "dcp_to_hf", *d);
  auto p = std::make_shared<DcpToPeftArgs>();
  CLI::App* dcp_to_peft = add_dcp_to_peft(*convert, *p);
  return {convert, [=] {
            if (dcp_to_peft->parsed()) {
              convert_dcp_to_peft(p->dcp_dir, p->save_dir, p->overwrite);
            } else if (hf_to_dcp[0]->parsed() || hf_to_dcp[1]->parsed()) {
              h->options.max_shard_bytes = parse_byte_size(h->max_shard_size, "--max-shard-size");
              convert_hf_to_dcp(h->options);
            } else {
              d->options.dtype = parse_export_dtype(d->dtype);
              d->options.max_shard_bytes = parse_byte_size(d->max_shard_size, "--max-shard-size");
              convert_dcp_to_hf(d->options);
            }
            return 0;
          }};
}

}  // namespace omnitune
