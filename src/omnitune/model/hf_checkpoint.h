// model/hf_checkpoint: the thinker <-> Hugging Face on-disk tensors. On disk (what transformers'
// save_pretrained writes) every name has the `thinker.` prefix and experts are separate tensors
// `...mlp.experts.{e}.{gate,up,down}_proj.weight`; in memory experts are merged (see moe.h).
// Loading is strict and streams from the memory-mapped shards: no second copy of the weights. LoRA adapter
// factors (model/lora.h) are no part of it: loading, export and the random init leave them alone.
#pragma once

#include <set>
#include <string>

#include "omnitune/io/safetensors_checkpoint.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/load_module.h"
#include "omnitune/model/thinker.h"

namespace omnitune {

struct LoadReport {
  int64_t loaded = 0;          // checkpoint tensors copied into the thinker
  int64_t ignored_talker = 0;  // talker.* and code2wav.* tensors (not trained, kept for export)
};

// Loads a checkpoint directory or file. Throws an Error listing every missing, unexpected, mis-shaped
// or non-float tensor. Accepts per-expert tensors (HF on disk) and fused ones (transformers-5 memory
// layout: experts.gate_up_proj [E, 2I, H], experts.down_proj [E, H, I]).
LoadReport load_hf_thinker(ThinkerImpl& thinker, const std::string& path);

// The same one parameter at a time (a sharded rank keeps its rows of each and drops the rest): fill() copies
// parameter `name` (in-memory name and shape) from the checkpoint, finish() raises every problem found.
class HfThinkerReader {
 public:
  explicit HfThinkerReader(const std::string& path);
  void fill(const std::string& name, at::Tensor& param);
  LoadReport finish();

 private:
  std::string disk_name(const std::string& hf) const;
  at::Tensor take(const std::string& name, c10::IntArrayRef shape);
  std::string path_;
  SafetensorsCheckpoint ckpt_;
  bool prefixed_ = false;  // a full checkpoint (thinker.*) or a bare thinker's
  std::set<std::string> used_;
  LoadProblems problems_;
  LoadReport report_;
};

// The thinker's parameters (or, with `grads`, their gradients; zeros where a parameter got none) under
// their HF on-disk names (per-expert, `thinker.` prefix), in `dtype`.
NamedTensors hf_thinker_tensors(const ThinkerImpl& thinker, at::ScalarType dtype, bool grads = false);

// Random initialisation as transformers does it: normal(0, std) for matrices and embeddings, ones for
// norm weights, zeros for biases. Deterministic for a seed.
void init_thinker_weights(ThinkerImpl& thinker, uint64_t seed, double std = 0.02);

// The same one parameter at a time, in the thinker's parameter order (the generator is seeded once here).
class ThinkerInit {
 public:
  ThinkerInit(const ThinkerImpl& thinker, uint64_t seed, double std = 0.02);
  void fill(const std::string& name, at::Tensor& param);

 private:
  int64_t pad_;
  double std_;
};

}  // namespace omnitune
