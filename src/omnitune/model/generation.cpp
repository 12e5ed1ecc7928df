#include "omnitune/model/generation.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"

namespace omnitune {

Generator::Generator(ThinkerImpl& thinker) : thinker_(thinker), cache_(thinker.config.text.num_hidden_layers) {}

at::Tensor Generator::logits_of_last(const at::Tensor& embeds, const at::Tensor& position_ids,
                                     const at::Tensor& visual_mask, const std::vector<at::Tensor>& deepstack) {
  const ThinkerRunOptions& o = thinker_.options;
  TextRunOptions text{o.text_attention, o.moe, o.bf16_position_ids, {}, nullptr, &cache_};
  TextOutput out = thinker_.model->forward(embeds, at::Tensor(), position_ids, visual_mask, deepstack, text, false);
  at::Tensor last = out.hidden.select(1, -1);                // [1, H]
  return thinker_.lm_head->forward(last)[0].to(at::kFloat);  // [V]
}

at::Tensor Generator::prefill(const ThinkerInputs& prompt) {
  if (cache_.length() > 0) throw Error("internal: Generator::prefill after tokens were generated");
  if (prompt.input_ids.dim() != 2 || prompt.input_ids.size(0) != 1 || prompt.input_ids.size(1) == 0)
    throw Error(cat("generation takes one non-empty sequence, got input_ids of shape ", prompt.input_ids.sizes()));
  if (prompt.attention_mask.defined() && !prompt.attention_mask.all().item<bool>())
    throw Error("generation takes a prompt without padding");
  ThinkerInputs whole = prompt;  // the mask makes decoder_inputs compute the 3-D position ids
  if (!whole.attention_mask.defined()) whole.attention_mask = at::ones_like(prompt.input_ids);
  DecoderInputs in = thinker_.decoder_inputs(whole);
  const int64_t length = prompt.input_ids.size(1);
  rope_delta_ = in.position_ids.max() + 1 - length;  // float32, as the reference's rope_deltas
  return logits_of_last(in.embeds, in.position_ids, in.visual_mask, in.deepstack);
}

at::Tensor Generator::next(int64_t token) {
  if (!rope_delta_.defined()) throw Error("internal: Generator::next before prefill");
  const at::TensorOptions ids = at::TensorOptions().dtype(at::kLong).device(rope_delta_.device());
  at::Tensor input_ids = at::full({1, 1}, token, ids);
  at::Tensor position = (rope_delta_ + cache_.length()).reshape({1, 1, 1}).expand({3, 1, 1});  // [3, 1, 1]
  return logits_of_last(thinker_.model->embed(input_ids), position, at::Tensor(), {});
}

}  // namespace omnitune
