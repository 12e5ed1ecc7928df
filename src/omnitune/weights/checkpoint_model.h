// weights/checkpoint_model: the model part of a training checkpoint directory (checkpoint_layout.h):
//   checkpoint.json   format, version, kind, the name prefixes
//   config.json       the Hugging Face model config, so that a checkpoint of another model is caught up front
//   model.safetensors | model-%05d-of-%05d.safetensors + model.safetensors.index.json
//                     fp32 master weights named checkpoint_tensor_name(<in-memory thinker name>): HF names
//                     without `thinker.`, experts merged (mlp.experts.gate_up_proj [E,H,2I], down_proj [E,I,H])
// Saving and loading stream tensor by tensor: memory beyond the model itself stays bounded.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "omnitune/io/safetensors_checkpoint.h"
#include "omnitune/io/tensor_pieces.h"
#include "omnitune/model/hf_layout.h"
#include "omnitune/model/load_module.h"
#include "omnitune/model/thinker.h"
#include "omnitune/weights/checkpoint_layout.h"
#include "omnitune/weights/shard_writer.h"

namespace omnitune {

// Writes `thinker`'s parameters (as fp32) + config.json (the text given) + checkpoint.json into `dir`.
void save_checkpoint_model(const ThinkerImpl& thinker, const std::string& dir, const std::string& hf_config_json,
                           const std::string& kind /* "training" | "release" */, uint64_t max_shard_bytes = 4ull << 30);
// The same for parameters given by name (in-memory thinker names; e.g. the trainer's fp32 masters).
// `part`: this writer's share when several processes holding the same parameters write `dir` together
// (writer 0 also writes config.json and checkpoint.json).
void save_checkpoint_model(const NamedTensors& params, const std::string& dir, const std::string& hf_config_json,
                           const std::string& kind, uint64_t max_shard_bytes = 4ull << 30, const WriterPart& part = {});

// A sharded job's part of the model: rows[i] holds rows [first_rows[i], ...) of parameter rows[i].first.
// Written (fp32) as <dir>/model-<part>-of-<parts>.safetensors with their offsets in DCP_SHARDING_INFO
// (tensor_pieces.h); part 0 also writes config.json and checkpoint.json. Blocks of no rows are left out.
void save_checkpoint_rows(const NamedTensors& rows, const std::vector<int64_t>& first_rows, const std::string& dir,
                          const std::string& hf_config_json, const std::string& kind, int64_t part, int64_t parts);

// Strict load into `thinker` (copied into its parameters, whatever their dtype and device). Errors: the
// checkpoint was made for a different model config (naming the differing thinker config keys), or a list
// of every missing, unexpected, mis-shaped or non-float tensor. A LoRA run's checkpoint (adapter_config.json
// next to the weights) holds the adapter factors and modules_to_save only: those are read (returns true) and
// the base is left alone; a base model's checkpoint leaves the adapter factors alone.
bool load_checkpoint_model(ThinkerImpl& thinker, const std::string& dir, const std::string& expected_hf_config_json);

// The same checks, then the model tensors read parameter by parameter (a sharded rank reads its rows only).
struct CheckpointModel {
  CheckpointModel(const ThinkerImpl& thinker, const std::string& dir, const std::string& expected_hf_config_json);
  // rows <- rows [first, first + rows.size(0)) of parameter `param` (in-memory name), in rows' dtype.
  void read_rows(const std::string& param, int64_t first, at::Tensor& rows) const;
  CheckpointInfo info;
  TensorPieces tensors;
  bool adapter_only = false;    // a LoRA run's: the adapter factors and modules_to_save, no base
  std::set<std::string> holds;  // the thinker parameters it holds
};

// <dir>/config.json as it is: the config of the model the checkpoint was made for.
std::string checkpoint_config_text(const std::string& dir);

// The building blocks, shared with `omnitune convert`:
// model tensors + config.json + checkpoint.json into `dir` (which must hold no model weights yet).
void write_checkpoint_model(const std::string& dir, const std::vector<StreamedTensor>& tensors,
                            const std::string& hf_config_json, const CheckpointInfo& info, uint64_t max_shard_bytes,
                            const std::function<void(uint64_t)>& progress = {}, const WriterPart& part = {});
// The model tensors of checkpoint directory `dir`: whole (model.safetensors or the Hugging Face shards with
// their index) or the blocks of rows the ranks of a sharded job wrote (model-0000r-of-0000N, no index).
TensorPieces open_checkpoint_model(const std::string& dir);
// <dir>/<stem>-0000k-of-0000N.safetensors for k = 0..N-1 (sorted; none: empty). Error when some are missing
// or the counts differ.
std::vector<std::string> part_files(const std::string& dir, const std::string& stem);
// Error unless <dir>/config.json describes the same thinker as `expected_hf_config_json` (config_match.h).
void check_checkpoint_config(const std::string& dir, const std::string& expected_hf_config_json);
// Every checkpoint tensor that is missing, unexpected, mis-shaped or not floating point for `params`.
LoadProblems checkpoint_tensor_problems(const TensorPieces& model, const std::vector<ParamLayout>& params,
                                        const CheckpointInfo& info);

}  // namespace omnitune
