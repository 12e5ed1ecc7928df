#include "omnitune/model/thinker.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"
#include "omnitune/model/causal_lm_loss.h"
#include "omnitune/model/fused_lm_loss.h"
#include "omnitune/model/rope_index.h"
#include "omnitune/model/thinker_inputs.h"
#include "omnitune/model/unit_runner.h"

namespace omnitune {

ThinkerImpl::ThinkerImpl(const ThinkerConfig& c, const ThinkerRunOptions& o) : config(c), options(o) {
  audio_tower = register_module("audio_tower", AudioEncoder(c.audio, o.audio_attention));
  visual = register_module("visual", VisionEncoder(c.vision, o.vision_attention));
  model = register_module("model", TextModel(c.text));
  lm_head = register_module("lm_head", Linear(c.text.hidden_size, c.text.vocab_size, false));
  if (c.tie_word_embeddings)
    throw Error("config: tie_word_embeddings=true is not supported (Qwen3-Omni unties lm_head)");
}

at::Tensor ThinkerImpl::scatter_features(const at::Tensor& embeds, const at::Tensor& mask, const at::Tensor& features,
                                         const char* what) {
  int64_t slots = mask.sum().item<int64_t>();
  if (slots != features.size(0))
    throw Error(cat(what, " features and tokens do not match: ", slots, " placeholder tokens in input_ids but the ",
                    what, " inputs give ", features.size(0), " features"));
  return embeds.masked_scatter(mask.unsqueeze(-1), features.to(embeds.scalar_type()));
}

DecoderInputs ThinkerImpl::decoder_inputs(const ThinkerInputs& in) {
  if (!in.input_ids.defined() || in.input_ids.dim() != 2) throw Error("input_ids must be given as [batch, sequence]");
  at::Tensor embeds = model->embed(in.input_ids);  // [B, S, H]
  auto pad_mask = [&](int64_t id) { return in.input_ids == id; };

  // The tower calls this forward makes: audio, images, videos. With a unit runner (parameter sharding) a call
  // that another rank makes and this one does not is announced as skipped.
  const std::vector<bool> mine = {in.input_features.defined(), in.pixel_values.defined(),
                                  in.pixel_values_videos.defined()};
  UnitRunner* runner = current_unit_runner();
  const std::vector<bool> any = runner ? runner->any_rank(mine) : mine;
  if (in.input_features.defined()) {
    if (!in.feature_attention_mask.defined()) throw Error("input_features given without feature_attention_mask");
    at::Tensor lens = in.feature_attention_mask.sum(1);
    embeds = scatter_features(
        embeds, pad_mask(config.audio_token_id),
        audio_tower->forward(in.input_features, lens, options.audio_activations, options.context_parallel.get()),
        "audio");
  } else if (any[0]) {
    skip_units(audio_tower->units());
  }
  VisionOutput image, video;
  at::Tensor image_mask, video_mask;
  if (in.pixel_values.defined()) {
    image =
        visual->forward(in.pixel_values, in.image_grid_thw, options.vision_activations, options.context_parallel.get());
    image_mask = pad_mask(config.image_token_id);
    embeds = scatter_features(embeds, image_mask, image.tokens, "image");
  } else if (any[1]) {
    skip_units(visual->units());
  }
  if (in.pixel_values_videos.defined()) {
    video = visual->forward(in.pixel_values_videos, in.video_grid_thw, options.vision_activations,
                            options.context_parallel.get());
    video_mask = pad_mask(config.video_token_id);
    embeds = scatter_features(embeds, video_mask, video.tokens, "video");
  } else if (any[2]) {
    skip_units(visual->units());
  }

  // DeepStack features of images and videos, joined in token order over the visual positions.
  at::Tensor visual_mask;
  std::vector<at::Tensor> deepstack;
  if (image_mask.defined() && video_mask.defined()) {
    visual_mask = image_mask | video_mask;
    at::Tensor is_image = image_mask.masked_select(visual_mask), is_video = video_mask.masked_select(visual_mask);
    for (size_t k = 0; k < image.deepstack.size(); ++k) {
      at::Tensor joint = at::zeros({is_image.size(0), image.deepstack[k].size(1)}, image.deepstack[k].options());
      joint = joint.index_put({is_image}, image.deepstack[k]).index_put({is_video}, video.deepstack[k]);
      deepstack.push_back(joint);
    }
  } else if (image_mask.defined()) {
    visual_mask = image_mask;
    deepstack = image.deepstack;
  } else if (video_mask.defined()) {
    visual_mask = video_mask;
    deepstack = video.deepstack;
  }

  at::Tensor position_ids;
  if (in.attention_mask.defined()) {
    RopeIndexInputs r;
    r.input_ids = in.input_ids;
    r.attention_mask = in.attention_mask;
    r.image_grid_thw = in.image_grid_thw;
    r.video_grid_thw = in.video_grid_thw;
    r.video_second_per_grid = in.video_second_per_grid;
    if (in.feature_attention_mask.defined()) r.audio_seqlens = in.feature_attention_mask.sum(1);
    r.use_audio_in_video = in.use_audio_in_video;
    position_ids = get_rope_index(config, r);
  } else {
    position_ids =
        at::arange(in.input_ids.size(1), in.input_ids.options()).view({1, 1, -1}).expand({3, in.input_ids.size(0), -1});
  }
  return {embeds, visual_mask, deepstack, position_ids};
}

ThinkerOutputs ThinkerImpl::forward(const ThinkerInputs& in) {
  auto [embeds, visual_mask, deepstack, position_ids] = decoder_inputs(in);
  ThinkerOutputs out;
  out.position_ids = position_ids;

  TextRunOptions text_options{options.text_attention, options.moe, options.bf16_position_ids, options.text_activations,
                              options.context_parallel.get()};
  TextInputs text_in{embeds, in.attention_mask, in.attention_mask, out.position_ids, visual_mask, deepstack, {}, {}};
  if (in.labels.defined()) {
    if (in.labels.sizes() != in.input_ids.sizes())
      throw Error(cat("labels shape ", in.labels.sizes(), " does not match input_ids ", in.input_ids.sizes()));
    text_in.targets = shift_left(in.labels, kIgnoreIndex);  // position t predicts labels[t + 1]
    if (in.label_weights.defined()) text_in.target_weights = shift_left(in.label_weights.to(at::kFloat), 0.0);
  }
  if (ContextParallelComm* cp = text_options.context_parallel) {
    if (in.labels.defined() && !in.label_weights.defined())
      throw Error("internal: context parallelism needs the loss weights of the whole step (label_weights)");
    text_in = local_text_inputs(text_in, SequenceSplit(in.input_ids.size(1), cp->size(), cp->rank()));
  }
  const bool want_aux = config.text.output_router_logits;
  TextOutput text = model->forward(text_in.embeds, text_in.attention_mask, text_in.position_ids, text_in.visual_mask,
                                   text_in.deepstack, text_options, want_aux);
  const bool fused = in.labels.defined() && options.loss_chunk_rows > 0;
  at::Tensor head = run_unit(*lm_head, {text.hidden}, [&](const std::vector<at::Tensor>& h) {
    return std::vector<at::Tensor>{fused ? fused_shifted_lm_loss(h[0], lm_head->weight, text_in.targets,
                                                                 options.loss_chunk_rows, text_in.target_weights)
                                         : lm_head->forward(h[0])};  // loss, or logits [B, S, V]
  })[0];
  if (fused) {
    out.loss = head;
  } else {
    out.logits = head;
    if (in.labels.defined()) out.loss = shifted_lm_loss(out.logits, text_in.targets, text_in.target_weights);
  }
  out.lm_loss = out.loss;
  if (want_aux) {
    out.aux_loss = router_aux_loss(text.router_logits, config.text.num_experts, config.text.num_experts_per_tok,
                                   text_in.token_mask, text_options.context_parallel);
    if (out.loss.defined())
      out.loss =
          out.loss + config.text.router_aux_loss_coef * in.aux_loss_scale * out.aux_loss.to(out.loss.scalar_type());
  }
  return out;
}

std::vector<torch::nn::Module*> ThinkerImpl::wrapping_units() {
  std::vector<torch::nn::Module*> out = {model->embed_tokens.ptr().get()};
  for (torch::nn::Module* m : audio_tower->units()) out.push_back(m);
  for (torch::nn::Module* m : visual->units()) out.push_back(m);
  for (const auto& layer : model->layers) out.push_back(layer.ptr().get());
  out.push_back(lm_head.ptr().get());
  return out;
}

at::Tensor router_aux_loss(const std::vector<at::Tensor>& router_logits, int64_t num_experts, int64_t top_k,
                           const at::Tensor& attention_mask, ContextParallelComm* cp) {
  at::Tensor logits = at::cat(router_logits, 0);                               // [L*B*S, E]
  at::Tensor probs = at::softmax(logits, -1);                                  // [L*B*S, E] (logits dtype)
  at::Tensor selected = std::get<1>(at::topk(probs, top_k, -1));               // [L*B*S, k]
  at::Tensor expert_mask = at::one_hot(selected, num_experts).to(at::kFloat);  // [L*B*S, k, E]
  if (cp) {  // sum(tokens_e / n * probs_e / n) * E with tokens_e and n over the group, probs_e this rank's
    const int64_t layers = logits.size(0) / attention_mask.numel();
    at::Tensor m = attention_mask.reshape({1, -1}).expand({layers, attention_mask.numel()}).reshape({-1, 1});
    at::Tensor counts = at::cat({(expert_mask * m.unsqueeze(-1).to(at::kFloat)).sum(0).reshape(-1),
                                 m.sum().to(at::kFloat).reshape({1})})
                            .cpu()
                            .contiguous();  // [k*E + 1] selections, tokens
    cp->all_reduce_sum(counts);
    counts = counts.to(logits.device());
    at::Tensor tokens = counts.narrow(0, 0, top_k * num_experts).view({top_k, num_experts}), n = counts[-1];
    at::Tensor prob_sum = (probs * m.to(probs.scalar_type())).sum(0);  // [E]
    return ((tokens / n) * (prob_sum / n.to(prob_sum.scalar_type())).unsqueeze(0)).sum() * num_experts;
  }
  at::Tensor tokens_per_expert, prob_per_expert;
  if (!attention_mask.defined()) {
    tokens_per_expert = expert_mask.mean(0);  // [k, E]
    prob_per_expert = probs.mean(0);          // [E]
  } else {
    const int64_t layers = logits.size(0) / attention_mask.numel();
    at::Tensor m =
        attention_mask.unsqueeze(0).expand({layers, attention_mask.size(0), attention_mask.size(1)}).reshape({-1});
    at::Tensor slot_mask = m.view({-1, 1, 1}).expand_as(expert_mask).to(expert_mask.scalar_type());
    tokens_per_expert = (expert_mask * slot_mask).sum(0) / slot_mask.sum(0);
    at::Tensor row_mask = m.view({-1, 1}).expand_as(probs).to(probs.scalar_type());
    prob_per_expert = (probs * row_mask).sum(0) / row_mask.sum(0);
  }
  return (tokens_per_expert * prob_per_expert.unsqueeze(0)).sum() * num_experts;
}

}  // namespace omnitune
