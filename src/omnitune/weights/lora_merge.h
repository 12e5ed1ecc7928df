// weights/lora_merge: the thinker of a LoRA run's checkpoint with its adapter merged — each Hugging Face tensor
// of the export is its base value (the base the adapter's config names: Hugging Face weights or a training
// checkpoint) + scaling * B A where an adapter sits, or the checkpoint's own value for modules_to_save. One
// tensor at a time, as PEFT's merge_and_unload computes it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <ATen/Tensor.h>

#include "omnitune/io/tensor_pieces.h"
#include "omnitune/model/hf_layout.h"
#include "omnitune/model/lora.h"
#include "omnitune/weights/checkpoint_layout.h"
#include "omnitune/weights/hf_model.h"

namespace omnitune {

class MergedThinker {
 public:
  // `dir`: the LoRA checkpoint (iter_N); `config_text`: the model's config.json (the export's original).
  MergedThinker(const std::string& dir, const std::string& config_text);
  // HF tensor k of parameter p (p.hf[k]), merged, fp32.
  at::Tensor hf_tensor(const ParamLayout& p, size_t k) const;
  const std::string& base() const { return base_; }

 private:
  at::Tensor base_value(const ParamLayout& p, size_t k) const;
  // Rows [first, first + count) of a parameter of a training checkpoint.
  static at::Tensor rows(const TensorPieces& pieces, const CheckpointInfo& info, const std::string& param,
                         int64_t first, int64_t count);
  LoraSpec spec_;
  std::string base_;
  std::optional<HfModel> base_hf_;               // base: Hugging Face weights
  std::optional<TensorPieces> base_checkpoint_;  // or a training checkpoint
  CheckpointInfo base_info_, adapter_info_;
  TensorPieces adapter_;
};

}  // namespace omnitune
