// model/thinker: Qwen3OmniMoeThinkerForConditionalGeneration — the audio and vision towers, their
// features merged at the <|audio_pad|>/<|image_pad|>/<|video_pad|> tokens, the text decoder with
// DeepStack, the untied lm_head, the causal-LM loss and the router auxiliary loss. Parameter names are
// the HF names without the `thinker.` prefix (experts merged, see moe.h).
#pragma once

#include <torch/nn/module.h>

#include "omnitune/model/audio_encoder.h"
#include "omnitune/model/config.h"
#include "omnitune/model/context_parallel.h"
#include "omnitune/model/layers.h"
#include "omnitune/model/text_decoder.h"
#include "omnitune/model/thinker_inputs.h"
#include "omnitune/model/vision_encoder.h"

namespace omnitune {

struct ThinkerOutputs {
  at::Tensor logits;        // [B, S, V] (model dtype); undefined with loss_chunk_rows > 0
  at::Tensor position_ids;  // [3, B, S]
  at::Tensor loss;          // scalar fp32, when labels were given (includes coef * aux_loss when enabled)
  at::Tensor lm_loss;       // the causal-LM part of `loss` alone
  at::Tensor aux_loss;      // scalar, when the config enables router logits
};

// What the text decoder reads for a batch: the token embeddings with each tower's features at its pad tokens,
// the DeepStack features over the visual positions, and the 3-D position ids.
struct DecoderInputs {
  at::Tensor embeds;                  // [B, S, H]
  at::Tensor visual_mask;             // [B, S] bool, undefined without images and videos
  std::vector<at::Tensor> deepstack;  // [#visual, H] added after decoder layer j
  at::Tensor position_ids;            // [3, B, S]
};

struct ThinkerRunOptions {
  AttentionBackend text_attention, vision_attention, audio_attention;
  MoeImpl moe = MoeImpl::kGrouped;
  bool bf16_position_ids = false;
  // > 0: with labels, compute the loss with fused_causal_lm_loss in chunks of this many rows and no
  // logits (training); 0: full logits as the reference returns them.
  int64_t loss_chunk_rows = 0;
  // Per tower: recompute each layer in the backward, optionally offloading its input (recompute.h).
  ActivationMemory audio_activations, vision_activations, text_activations;
  // Ulysses context parallelism (training): the LLM runs this rank's part of each sequence; null = off.
  std::shared_ptr<ContextParallelComm> context_parallel;
};

class ThinkerImpl : public torch::nn::Module {
 public:
  ThinkerImpl(const ThinkerConfig& config, const ThinkerRunOptions& options = {});
  ThinkerOutputs forward(const ThinkerInputs& in);
  // The towers run on the batch's media, their features merged into the embeddings, and the position ids.
  DecoderInputs decoder_inputs(const ThinkerInputs& in);
  // The seed's FSDP2 wrapping units, as forward() may run them: the embedding, each audio layer, each vision
  // block / DeepStack merger / the merger, each LLM layer, lm_head (every other parameter is the root's).
  std::vector<torch::nn::Module*> wrapping_units();

  AudioEncoder audio_tower{nullptr};
  VisionEncoder visual{nullptr};
  TextModel model{nullptr};
  Linear lm_head{nullptr};
  ThinkerConfig config;
  ThinkerRunOptions options;

 private:
  // Writes each tower's features into the embeddings at its pad tokens (count checked).
  at::Tensor scatter_features(const at::Tensor& embeds, const at::Tensor& mask, const at::Tensor& features,
                              const char* what);
};
TORCH_MODULE(Thinker);

// HF load_balancing_loss_func over the MoE layers' router logits (each [B*S, E]). With `cp` the logits are this
// rank's tokens of the sequences: the counts are summed over the group and the result is this rank's share
// (the shares add up to the loss of the whole sequences, and so do their gradients).
at::Tensor router_aux_loss(const std::vector<at::Tensor>& router_logits, int64_t num_experts, int64_t top_k,
                           const at::Tensor& attention_mask, ContextParallelComm* cp = nullptr);

}  // namespace omnitune
