// train/flops: model FLOPs of one training micro-batch (forward + backward = 3 x the forward's matmul
// FLOPs; recomputation is not counted, as MFU conventionally does). Counted per tower from the actual
// token counts: text tokens (attention causal, over each sample's own length), the MoE's router and
// active experts (top-k), lm_head on the rows that get a loss; vision patches (patch embedding, blocks
// with full attention per image, mergers incl. DeepStack); audio frames (the conv stack, encoder layers
// with windowed attention, projections). Elementwise work (norms, activations, softmax) is left out.
#pragma once

#include "omnitune/model/config.h"
#include "omnitune/model/thinker_inputs.h"

namespace omnitune {

struct StepFlops {
  double text = 0, vision = 0, audio = 0;
  double total() const { return text + vision + audio; }
  StepFlops& operator+=(const StepFlops& o) {
    text += o.text, vision += o.vision, audio += o.audio;
    return *this;
  }
};

// `lm_head_rows`: rows projected by lm_head (labelled rows with the fused loss, all tokens otherwise).
StepFlops training_flops(const ThinkerConfig& config, const ThinkerInputs& batch, int64_t lm_head_rows);

}  // namespace omnitune
