// omnitune forward: one forward (and optionally backward) pass of the thinker on a batch stored as
// safetensors with the Hugging Face forward argument names — the parity contract with transformers.
#include <ATen/ATen.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "omnitune/cli/commands.h"
#include "omnitune/cli/flag_checks.h"
#include "omnitune/cli/inference_model.h"
#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"
#include "omnitune/core/output_paths.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/hf_checkpoint.h"
#include "omnitune/model/thinker_inputs_file.h"

namespace omnitune {

namespace {

struct ForwardOptions {
  std::string model_dir, adapter_dir, batch_path, out_path, dtype = "fp32", attn = "sdpa", layout = "BNSD",
                                                            moe = "grouped";
  std::string text_attn, vision_attn, audio_attn;  // per-tower overrides "impl" or "impl:layout"
  std::string recompute, offload;                  // towers: "audio,vision,text" (any subset) or "all"
  bool grads = false, bf16_position_ids = false;
  int64_t loss_chunk = 0;
};

// --recompute / --offload: the towers named ("audio", "vision", "text", comma-separated, or "all").
struct TowerSet {
  bool audio = false, vision = false, text = false;
};

TowerSet parse_towers(const std::string& spec, const std::string& flag) {
  TowerSet towers;
  if (spec.empty()) return towers;
  if (spec == "all") return {true, true, true};
  const std::vector<std::string> names = {"audio", "vision", "text"};
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = std::min(spec.find(',', start), spec.size());
    std::string name = spec.substr(start, comma - start);
    if (name == "audio")
      towers.audio = true;
    else if (name == "vision")
      towers.vision = true;
    else if (name == "text")
      towers.text = true;
    else
      throw Error(flag + ": unknown tower '" + name + "'" + did_you_mean(name, names) +
                  "; valid: audio, vision, text or all");
    start = comma + 1;
  }
  return towers;
}

int run_forward(const ForwardOptions& o) {
  if (o.dtype != "fp32" && o.dtype != "bf16") throw Error("--dtype: '" + o.dtype + "' is not fp32 or bf16");
  ThinkerRunOptions run;
  AttentionBackend all{parse_attn_impl(o.attn, "--attn"), parse_attn_layout(o.layout, "--attn-layout")};
  auto tower = [&](const std::string& spec, const std::string& flag) {
    if (spec.empty()) return all;
    size_t colon = spec.find(':');
    AttentionBackend b = all;
    b.impl = parse_attn_impl(spec.substr(0, colon), flag);
    if (colon != std::string::npos) b.layout = parse_attn_layout(spec.substr(colon + 1), flag);
    check_backend(b, false, flag);
    return b;
  };
  run.text_attention = tower(o.text_attn, "--text-attn");
  run.vision_attention = tower(o.vision_attn, "--vision-attn");
  run.audio_attention = tower(o.audio_attn, "--audio-attn");
  check_backend(all, false, "--attn");
  run.moe = parse_moe_impl(o.moe, "--moe-impl");
  run.bf16_position_ids = o.bf16_position_ids;
  if (o.loss_chunk < 0) throw Error("--loss-chunk must be >= 0");
  run.loss_chunk_rows = o.loss_chunk;
  TowerSet recompute = parse_towers(o.recompute, "--recompute"), offload = parse_towers(o.offload, "--offload");
  run.audio_activations = {recompute.audio || offload.audio, offload.audio};
  run.vision_activations = {recompute.vision || offload.vision, offload.vision};
  run.text_activations = {recompute.text || offload.text, offload.text};

  check_output_is_not_input({"--out", o.out_path}, {{"--model", o.model_dir}, {"--batch", o.batch_path}});
  InferenceModel model = locate_inference_model(o.model_dir);
  ThinkerInputs in = read_thinker_inputs(o.batch_path);
  check_thinker_inputs(in, model.config, o.batch_path);
  if (o.grads && !in.labels.defined()) throw Error("--grads needs 'labels' in the batch (gradients are of the loss)");
  load_inference_model(model, o.adapter_dir, run);
  Thinker thinker = model.thinker;
  if (o.dtype == "bf16") thinker->to(at::kBFloat16);

  std::optional<at::NoGradGuard> no_grad;
  if (!o.grads) no_grad.emplace();
  ThinkerOutputs out = thinker->forward(in);

  NamedTensors result = {{"position_ids", out.position_ids}};
  if (out.logits.defined()) result.emplace_back("logits", out.logits.to(at::kFloat));
  if (out.loss.defined()) result.emplace_back("loss", out.loss.to(at::kFloat));
  if (out.aux_loss.defined()) result.emplace_back("aux_loss", out.aux_loss.to(at::kFloat));
  if (o.grads) {
    out.loss.backward();
    for (auto& [name, g] : hf_thinker_tensors(*thinker, at::kFloat, true)) result.emplace_back("grad." + name, g);
  }
  save_tensors(o.out_path, result);
  if (out.loss.defined()) std::printf("loss %.9g\n", out.loss.item<double>());
  return 0;
}

}  // namespace

Subcommand register_forward(CLI::App& app) {
  auto o = std::make_shared<ForwardOptions>();
  CLI::App* sub = app.add_subcommand("forward",
                                     "Run the thinker on one batch (HF forward argument names) and write logits, "
                                     "position ids, loss and optionally every parameter gradient");
  sub->add_option("--model", o->model_dir,
                  "Hugging Face checkpoint directory (config.json + safetensors), or a training "
                  "checkpoint (save directory, iter_N or release)")
      ->required();
  sub->add_option("--adapter", o->adapter_dir, "A LoRA adapter directory as PEFT writes it, applied to --model");
  sub->add_option("--batch", o->batch_path, "safetensors with input_ids, attention_mask, labels, pixel_values, ...")
      ->required();
  sub->add_option("--out", o->out_path, "Output safetensors")->required();
  sub->add_flag("--grads", o->grads, "Backward of the loss; write grad.<HF tensor name> (fp32) for every parameter");
  sub->add_option("--dtype", o->dtype, "fp32 or bf16 (weights and compute)")->capture_default_str();
  sub->add_option("--attn", o->attn, "Attention for all towers: eager, sdpa, flash_attention_2")->capture_default_str();
  sub->add_option("--attn-layout", o->layout, "BNSD, BSND or TND")->capture_default_str();
  sub->add_option("--text-attn", o->text_attn, "Text decoder attention, overriding --attn: IMPL or IMPL:LAYOUT");
  sub->add_option("--vision-attn", o->vision_attn, "Vision encoder attention, overriding --attn: IMPL or IMPL:LAYOUT");
  sub->add_option("--audio-attn", o->audio_attn, "Audio encoder attention, overriding --attn: IMPL or IMPL:LAYOUT");
  sub->add_option("--moe-impl", o->moe, "grouped or loop")->capture_default_str();
  sub->add_option("--loss-chunk", o->loss_chunk,
                  "With labels: fused lm_head + loss in chunks of N rows, no logits computed or written (0 = off)")
      ->capture_default_str()
      ->check(integer_in(0));
  sub->add_option(
      "--recompute", o->recompute,
      "Recompute each layer in the backward instead of keeping its activations: audio,vision,text (any) or all");
  sub->add_option("--offload", o->offload,
                  "Recompute and also keep each layer's input in host memory until its backward (implies --recompute): "
                  "audio,vision,text (any) or all");
  sub->add_flag("--bf16-position-ids", o->bf16_position_ids,
                "Round position ids to bf16 before RoPE (reproduces the seed's LLaMA-Factory-aligned numbers)");
  return {sub, [o] { return run_forward(*o); }};
}

}  // namespace omnitune
