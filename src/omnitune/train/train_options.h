// train/train_options: what `omnitune train` was asked to do — the seed's finetune_qwen3omni.sh flags
// (Megatron spellings and defaults) after parsing, plus OmniTune's own few.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace omnitune {

struct TrainOptions {
  std::string mm_data, mm_model, fsdp2_config;
  int64_t micro_batch_size = 1;
  std::optional<int64_t> global_batch_size;  // default: micro x data-parallel size (no accumulation)
  std::optional<int64_t> seq_length;         // overrides data.json's cutoff_len
  std::optional<double> lr;                  // required
  double min_lr = 0.0;
  std::string lr_decay_style = "linear";     // Megatron's default
  std::optional<double> lr_warmup_fraction;  // of the decay iterations
  int64_t lr_warmup_iters = 0;
  std::optional<int64_t> lr_decay_iters;  // default: train_iters
  double weight_decay = 0.01, adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-8;
  double clip_grad = 1.0;   // 0 = no clipping (the norm is still computed and logged)
  int64_t train_iters = 0;  // required
  int64_t seed = 1234;
  std::string load, save, tensorboard_dir;
  int64_t save_interval = 0;  // 0 = only the final save
  int64_t log_interval = 100;
  bool no_load_optim = false, no_load_rng = false, no_save_optim = false, no_save_rng = false;
  bool init_model_with_meta_device = false;
  std::string device = "auto";              // auto | cpu | cuda
  std::string distributed_backend;          // gloo | nccl; "" = by device (nccl on GPUs, gloo on CPUs)
  double distributed_timeout_minutes = 10;  // rendezvous and each collective (Megatron's default)
  std::string build;                        // the omnitune build: every rank of a job must run the same
  bool distributed_optimizer = false;       // AdamW state sharded over the ranks (ZeRO-1)
  int64_t context_parallel_size = 1;        // Ulysses: ranks that share each sequence (world = DP x CP)
  int64_t eval_interval = 0;                // validation loss every this many iterations (0: never)
  std::optional<int64_t> eval_iters;        // micro-batches per evaluation and rank (default: all the rows)
  // LoRA flags: each overrides model.json's `lora` key of the same name and turns LoRA on
  std::optional<int64_t> lora_rank;
  std::optional<double> lora_alpha, lora_dropout;
  std::vector<std::string> lora_target_modules, lora_target_parameters, lora_modules_to_save;
  std::vector<std::string> ignored_flags;  // the seed's flags that mean nothing here, as given
};

}  // namespace omnitune
