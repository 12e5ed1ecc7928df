// omnitune train: the seed's finetune_qwen3omni.sh flags (Megatron spellings) -> TrainOptions ->
// run_training. Flags of the seed's script that mean nothing in OmniTune are accepted and listed once;
// tensor, pipeline, context and expert parallelism other than 1 are rejected (data parallelism comes from
// the launcher's environment: several ranks).
#include <torch/version.h>

#include <cmath>
#include <optional>

#include <CLI/CLI.hpp>

#include "omnitune/cli/commands.h"
#include "omnitune/cli/flag_checks.h"
#include "omnitune/core/error.h"
#include "omnitune/train/trainer.h"

namespace omnitune {

namespace {

// Megatron/NPU switches of the seed's script: no effect on this trainer.
const char* const kIgnoredSwitches[] = {"--use-mcore-models",
                                        "--use-fused-rmsnorm",
                                        "--swiglu",
                                        "--use-fused-swiglu",
                                        "--no-masked-softmax-fusion",
                                        "--no-gradient-accumulation-fusion",
                                        "--use-torch-fsdp2",
                                        "--untie-embeddings-and-output-weights",
                                        "--use-cpu-initialization",
                                        "--use-flash-attn",
                                        "--bf16",
                                        "--log-tps",
                                        "--log-throughput",
                                        "--sequence-parallel"};
const char* const kIgnoredValues[] = {"--tokenizer-type",         "--vocab-size",  "--make-vocab-size-divisible-by",
                                      "--normalization",          "--num-workers", "--ckpt-format",
                                      "--optimizer-selection",    "--mm-tool",     "--position-embedding-type",
                                      "--max-position-embeddings"};

struct ParallelFlags {
  int64_t tensor = 1, pipeline = 1, expert = 1;
  std::string context_algo = "ulysses_cp_algo";
};

}  // namespace

Subcommand register_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  auto parallel = std::make_shared<ParallelFlags>();
  auto ignored = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  CLI::App* sub =
      app.add_subcommand("train", "Fine-tune Qwen3-Omni: the seed's data.json, model.json and training flags");
  sub->add_option("--mm-data", o->mm_data, "data.json (the seed's dataset description)")->required();
  sub->add_option("--mm-model", o->mm_model, "model.json (init_from_hf_path, freezing, attention, loss_cfg)")
      ->required();
  sub->add_option("--fsdp2-config,--fsdp2-config-path", o->fsdp2_config, "FSDP2 yaml: param_dtype = compute dtype");
  sub->add_option("--micro-batch-size", o->micro_batch_size, "Samples per micro-batch")
      ->capture_default_str()
      ->check(integer_in(1));
  sub->add_option("--global-batch-size", o->global_batch_size, "Samples per optimizer step (default: micro-batch size)")
      ->check(integer_in(1));
  sub->add_option("--seq-length", o->seq_length, "Token budget per sample (overrides data.json's cutoff_len)")
      ->check(integer_in(8));
  sub->add_option("--lr", o->lr, "Peak learning rate")->required()->check(number_in(0));
  sub->add_option("--min-lr", o->min_lr, "Learning rate at the end of the decay")
      ->capture_default_str()
      ->check(number_in(0));
  sub->add_option("--lr-decay-style", o->lr_decay_style, "constant, linear or cosine")->capture_default_str();
  sub->add_option("--lr-warmup-fraction", o->lr_warmup_fraction, "Warmup as a fraction of the decay iterations")
      ->check(number_in(0, 1));
  sub->add_option("--lr-warmup-iters", o->lr_warmup_iters, "Warmup iterations")
      ->capture_default_str()
      ->check(integer_in(0));
  sub->add_option("--lr-decay-iters", o->lr_decay_iters, "Decay iterations (default: --train-iters)")
      ->check(integer_in(1));
  sub->add_option("--weight-decay", o->weight_decay, "AdamW decoupled weight decay")
      ->capture_default_str()
      ->check(number_in(0));
  sub->add_option("--adam-beta1", o->adam_beta1)->capture_default_str()->check(number_in(0, std::nextafter(1.0, 0.0)));
  sub->add_option("--adam-beta2", o->adam_beta2)->capture_default_str()->check(number_in(0, std::nextafter(1.0, 0.0)));
  sub->add_option("--adam-eps", o->adam_eps)->capture_default_str()->check(number_in(0, 1, /*min_exclusive=*/true));
  sub->add_option("--clip-grad", o->clip_grad, "Clip the global grad norm to this (0 = no clipping)")
      ->capture_default_str()
      ->check(number_in(0));
  sub->add_option("--train-iters", o->train_iters, "Optimizer steps in total (a resumed run continues to it)")
      ->required()
      ->check(integer_in(1));
  sub->add_option("--seed", o->seed, "Seed of the sampler, the random init and the generators")
      ->capture_default_str()
      ->check(integer_in(0));
  sub->add_option("--load", o->load,
                  "Start from: a Hugging Face directory, a save directory (its tracker), iter_N or release");
  sub->add_option("--save", o->save, "Checkpoint directory (iter_%07d/, tracker, metrics.jsonl, loss_curve.svg)");
  sub->add_option("--save-interval", o->save_interval, "Save every N iterations (0 = only at the end)")
      ->capture_default_str()
      ->check(integer_in(0));
  sub->add_option("--log-interval", o->log_interval, "Log every N iterations")
      ->capture_default_str()
      ->check(integer_in(1));
  sub->add_option("--tensorboard-dir", o->tensorboard_dir, "Write TensorBoard scalars here");
  sub->add_flag("--no-load-optim", o->no_load_optim, "Resume weights, iteration and data position; fresh optimizer");
  sub->add_flag("--no-load-rng", o->no_load_rng, "Do not restore the generator states");
  sub->add_flag("--no-save-optim", o->no_save_optim, "Checkpoints without optimizer state");
  sub->add_flag("--no-save-rng", o->no_save_rng, "Checkpoints without generator states");
  sub->add_flag("--init-model-with-meta-device", o->init_model_with_meta_device,
                "Without --load: random initialisation instead of init_from_hf_path's weights");
  sub->add_option("--device", o->device, "auto, cpu or cuda (a GPU rank binds cuda:LOCAL_RANK)")->capture_default_str();
  sub->add_flag("--use-distributed-optimizer", o->distributed_optimizer,
                "Several ranks: each keeps the AdamW state of its share of the parameters (ZeRO-1)");
  sub->add_option("--distributed-backend", o->distributed_backend,
                  "gloo or nccl, for a job of several ranks (default: nccl on GPUs, gloo on CPUs)")
      ->check(CLI::IsMember({"gloo", "nccl"}));
  sub->add_option("--distributed-timeout-minutes", o->distributed_timeout_minutes,
                  "Give up on a rank that has not answered a rendezvous or collective within this time")
      ->capture_default_str()
      ->check(number_in(0, 1e6, /*min_exclusive=*/true));
  sub->add_option("--tensor-model-parallel-size", parallel->tensor)->check(integer_in(1));
  sub->add_option("--pipeline-model-parallel-size", parallel->pipeline)->check(integer_in(1));
  sub->add_option("--context-parallel-size", o->context_parallel_size,
                  "Ulysses context parallelism: ranks that split each sequence (world = data-parallel x this)")
      ->capture_default_str()
      ->check(integer_in(1));
  sub->add_option("--lora-rank", o->lora_rank, "LoRA rank (turns LoRA on; overrides model.json's lora.rank)")
      ->check(integer_in(1));
  sub->add_option("--lora-alpha", o->lora_alpha, "LoRA alpha (scaling alpha / rank)")
      ->check(number_in(0, 1e9, /*min_exclusive=*/true));
  sub->add_option("--lora-dropout", o->lora_dropout, "LoRA dropout on the adapted layers' inputs")
      ->check(number_in(0, 1));
  sub->add_option("--lora-target-modules", o->lora_target_modules,
                  "Linear layers to adapt: names as PEFT matches them (q_proj,v_proj), globs, or all-linear")
      ->delimiter(',');
  sub->add_option("--lora-target-parameters", o->lora_target_parameters,
                  "Merged expert tensors to adapt: mlp.experts.gate_up_proj,mlp.experts.down_proj")
      ->delimiter(',');
  sub->add_option("--lora-modules-to-save", o->lora_modules_to_save,
                  "Modules trained whole next to the adapters (e.g. lm_head)")
      ->delimiter(',');
  sub->add_option("--context-parallel-algo", parallel->context_algo,
                  "ulysses_cp_algo (the one algorithm here; the seed's others are refused)");
  sub->add_option("--expert-model-parallel-size", parallel->expert)->check(integer_in(1));
  sub->add_option("--eval-interval", o->eval_interval,
                  "Validation loss every this many iterations (data.json's val_dataset or val_rate rows; 0: never)")
      ->check(integer_in(0));
  sub->add_option("--eval-iters", o->eval_iters,
                  "Validation micro-batches per evaluation on each data-parallel rank (default: all the rows)")
      ->check(integer_in(1));
  for (const char* flag : kIgnoredSwitches)
    sub->add_flag_callback(
           flag, [ignored, flag] { ignored->emplace_back(flag, ""); }, "Accepted for the seed's script; no effect")
        ->group("Ignored (the seed's Megatron/NPU flags)");
  for (const char* flag : kIgnoredValues)
    sub->add_option_function<std::string>(
           flag, [ignored, flag](const std::string& v) { ignored->emplace_back(flag, v); },
           "Accepted for the seed's script; no effect")
        ->group("Ignored (the seed's Megatron/NPU flags)");
  return {
      sub, [o, parallel, ignored] {
        const std::pair<const char*, int64_t> sizes[] = {{"--tensor-model-parallel-size", parallel->tensor},
                                                         {"--pipeline-model-parallel-size", parallel->pipeline},
                                                         {"--expert-model-parallel-size", parallel->expert}};
        for (const auto& [flag, size] : sizes)
          if (size != 1)
            throw Error(cat(
                flag, " ", size,
                ": tensor, pipeline and expert parallelism are not supported yet (data and context parallelism are)"));
        if (parallel->context_algo != "ulysses_cp_algo")
          throw Error(cat("--context-parallel-algo ", parallel->context_algo,
                          ": not supported; use ulysses_cp_algo (Ulysses, the context parallelism the seed runs for "
                          "Qwen3-Omni; ring and hybrid attention are not built)"));
        for (const auto& [flag, value] : *ignored)
          o->ignored_flags.push_back(value.empty() ? flag : cat(flag, " ", value));
        o->build = cat(git_revision(), " libtorch ", TORCH_VERSION);
        run_training(*o);
        return 0;
      }};
}

}  // namespace omnitune
