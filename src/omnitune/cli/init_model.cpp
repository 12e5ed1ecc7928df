// omnitune init-model: a randomly initialised Qwen3-Omni thinker written in the Hugging Face on-disk
// format (what save_pretrained writes), plus the config — real checkpoints for tests and the demo.
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "omnitune/cli/commands.h"
#include "omnitune/cli/flag_checks.h"
#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/core/output_paths.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/hf_checkpoint.h"
#include "omnitune/model/model_memory.h"
#include "omnitune/weights/staged_dir.h"

namespace fs = std::filesystem;

namespace omnitune {

namespace {

struct InitOptions {
  std::string config_dir, out_dir, dtype = "fp32", max_shard_size = "5GB";
  int64_t seed = 42;
};

at::ScalarType parse_dtype(const std::string& text) {
  if (text == "fp32") return at::kFloat;
  if (text == "bf16") return at::kBFloat16;
  throw Error("--dtype: '" + text + "' is not fp32 or bf16");
}

int run_init(const InitOptions& o) {
  at::ScalarType dtype = parse_dtype(o.dtype);
  uint64_t max_shard = parse_byte_size(o.max_shard_size, "--max-shard-size");
  fs::path config_file =
      fs::is_directory(o.config_dir) ? fs::path(o.config_dir) / "config.json" : fs::path(o.config_dir);
  nlohmann::json raw = load_json_file(config_file.string());
  if (raw.value("enable_audio_output", false))
    throw Error(config_file.string() +
                ": enable_audio_output is true, but init-model writes the thinker only; set it to false");
  ThinkerConfig config = load_thinker_config(config_file.string());
  check_output_is_not_input({"--out", o.out_dir}, {{"--config", config_file.parent_path().string()}});
  if (fs::exists(o.out_dir) && !fs::is_empty(o.out_dir))
    throw Error(o.out_dir + ": output directory exists and is not empty; choose a new one");

  // Everything is written into a hidden staging directory beside the output, fsynced and renamed at the end.
  fs::path out = fs::absolute(o.out_dir).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();
  StagedDir staged(out.parent_path().string(), out.filename().string());
  const fs::path temp = staged.dir();
  check_thinker_fits_in_memory(config, config_file.string());
  Thinker thinker(config);
  init_thinker_weights(*thinker, static_cast<uint64_t>(o.seed));
  NamedTensors tensors = hf_thinker_tensors(*thinker, dtype);
  save_tensors_sharded(temp.string(), tensors, max_shard, {{"format", "pt"}});
  for (const auto& entry : fs::directory_iterator(config_file.parent_path())) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && entry.path().extension() != ".safetensors" && name != kIndexFileName)
      fs::copy_file(entry.path(), temp / name);
  }
  staged.commit();
  int64_t params = 0;
  for (const auto& [name, t] : tensors) params += t.numel();
  log_info(cat("init-model: wrote ", tensors.size(), " tensors (", params, " parameters, ", o.dtype, ", seed ", o.seed,
               ") to ", out.string()));
  return 0;
}

}  // namespace

Subcommand register_init_model(CLI::App& app) {
  auto o = std::make_shared<InitOptions>();
  CLI::App* sub = app.add_subcommand("init-model",
                                     "Write a randomly initialised Qwen3-Omni thinker in the Hugging Face "
                                     "format (safetensors + the config files)");
  sub->add_option("--config", o->config_dir, "Directory with config.json (or the file itself)")->required();
  sub->add_option("--out", o->out_dir, "Output directory (must not exist or be empty)")->required();
  sub->add_option("--seed", o->seed, "Random seed")->capture_default_str()->check(integer_in(0));
  sub->add_option("--dtype", o->dtype, "fp32 or bf16")->capture_default_str();
  sub->add_option("--max-shard-size", o->max_shard_size, "Largest safetensors shard (e.g. 5GB, 500MB)")
      ->capture_default_str();
  return {sub, [o] { return run_init(*o); }};
}

}  // namespace omnitune
