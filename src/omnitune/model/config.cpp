#include "omnitune/model/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "omnitune/core/config_file.h"
#include "omnitune/core/config_reader.h"
#include "omnitune/model/audio_lengths.h"

namespace omnitune {

bool TextConfig::is_moe_layer(int64_t layer) const {
  for (int64_t l : mlp_only_layers)
    if (l == layer) return false;
  return num_experts > 0 && (layer + 1) % decoder_sparse_step == 0;
}

namespace {

// A key whose value must be what we implement (else the model would silently compute something else).
template <class T>
void require_value(ConfigReader& in, const std::string& key, const T& supported, const std::string& what) {
  if (in.has(key) && in.required<T>(key) != supported) in.fail(key, "only " + what + " is supported");
}

// A sub-config's model_type, when given, must be the one transformers writes for Qwen3-Omni.
void check_model_type(ConfigReader& in, const std::string& expected) {
  if (in.has("model_type") && in.required<std::string>("model_type") != expected)
    in.fail("model_type",
            cat("'", in.required<std::string>("model_type"), "' is not a Qwen3-Omni model; expected '", expected, "'"));
}

Activation read_activation(ConfigReader& in, const std::string& key, Activation fallback) {
  if (!in.has(key)) return fallback;
  return parse_activation(in.required<std::string>(key), in.where(key));
}

// Every size below is read with its range and checked for divisibility here, where the file and the key
// are known; the modules built from a ThinkerConfig rely on it.
AudioConfig read_audio(ConfigReader in) {
  AudioConfig c;
  check_model_type(in, "qwen3_omni_moe_audio_encoder");
  c.num_mel_bins = in.get("num_mel_bins", c.num_mel_bins, at_least(1));
  c.d_model = in.get("d_model", c.d_model, at_least(4));
  if (c.d_model % 2 != 0) in.fail("d_model", cat(c.d_model, " must be even (sinusoidal positions)"));
  c.encoder_layers = in.get("encoder_layers", c.encoder_layers, at_least(0));
  c.encoder_attention_heads = in.get("encoder_attention_heads", c.encoder_attention_heads, at_least(1));
  if (c.d_model % c.encoder_attention_heads != 0)
    in.fail("encoder_attention_heads", cat(c.encoder_attention_heads, " does not divide d_model ", c.d_model));
  c.encoder_ffn_dim = in.get("encoder_ffn_dim", c.encoder_ffn_dim, at_least(1));
  c.downsample_hidden_size = in.get("downsample_hidden_size", c.downsample_hidden_size, at_least(1));
  c.output_dim = in.get("output_dim", c.output_dim, at_least(1));
  c.n_window = in.get("n_window", c.n_window, at_least(1));
  c.n_window_infer = in.get("n_window_infer", c.n_window_infer, at_least(2.0 * static_cast<double>(c.n_window)));
  if (c.n_window_infer % (2 * c.n_window) != 0)
    in.fail("n_window_infer", cat(c.n_window_infer, " must be a multiple of 2 * n_window = ", 2 * c.n_window));
  c.max_source_positions = in.get("max_source_positions", c.max_source_positions,
                                  at_least(static_cast<double>(conv_output_length(2 * c.n_window))));
  c.conv_chunksize = in.get("conv_chunksize", c.conv_chunksize, at_least(1));
  c.activation = read_activation(in, "activation_function", c.activation);
  require_value<bool>(in, "scale_embedding", false, "scale_embedding false");
  return c;
}

VisionConfig read_vision(ConfigReader in) {
  VisionConfig c;
  check_model_type(in, "qwen3_omni_moe_vision_encoder");
  c.depth = in.get("depth", c.depth, at_least(1));
  c.hidden_size = in.get("hidden_size", c.hidden_size, at_least(1));
  c.num_heads = in.get("num_heads", c.num_heads, at_least(1));
  if (c.hidden_size % c.num_heads != 0 || (c.hidden_size / c.num_heads) % 4 != 0)
    in.fail("num_heads", cat("hidden_size ", c.hidden_size, " / num_heads ", c.num_heads,
                             " must be a whole multiple of 4 (2-D rotary)"));
  c.intermediate_size = in.get("intermediate_size", c.intermediate_size, at_least(1));
  c.in_channels = in.get("in_channels", c.in_channels, at_least(1));
  c.patch_size = in.get("patch_size", c.patch_size, at_least(1));
  c.temporal_patch_size = in.get("temporal_patch_size", c.temporal_patch_size, at_least(1));
  c.spatial_merge_size = in.get("spatial_merge_size", c.spatial_merge_size, at_least(1));
  c.out_hidden_size = in.get("out_hidden_size", c.out_hidden_size, at_least(1));
  c.num_position_embeddings = in.get("num_position_embeddings", c.num_position_embeddings, at_least(1));
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(c.num_position_embeddings))));
  if (side * side != c.num_position_embeddings)
    in.fail("num_position_embeddings", cat(c.num_position_embeddings, " is not a square (a side x side table)"));
  c.deepstack_visual_indexes = in.get("deepstack_visual_indexes", c.deepstack_visual_indexes);
  for (size_t k = 0; k < c.deepstack_visual_indexes.size(); ++k) {
    const int64_t i = c.deepstack_visual_indexes[k];
    if (i < 0 || i >= c.depth)
      in.fail("deepstack_visual_indexes", cat("index ", i, " is not a block (depth ", c.depth, ")"));
    for (size_t j = 0; j < k; ++j)
      if (c.deepstack_visual_indexes[j] == i) in.fail("deepstack_visual_indexes", cat("index ", i, " is listed twice"));
  }
  c.hidden_act = read_activation(in, "hidden_act", c.hidden_act);
  return c;
}

TextConfig read_text(ConfigReader in) {
  TextConfig c;
  check_model_type(in, "qwen3_omni_moe_text");
  c.vocab_size = in.get("vocab_size", c.vocab_size, at_least(1));
  c.hidden_size = in.get("hidden_size", c.hidden_size, at_least(1));
  c.num_hidden_layers = in.get("num_hidden_layers", c.num_hidden_layers, at_least(1));
  c.num_attention_heads = in.get("num_attention_heads", c.num_attention_heads, at_least(1));
  c.num_key_value_heads = in.get("num_key_value_heads", c.num_key_value_heads, at_least(1));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    in.fail("num_key_value_heads",
            cat(c.num_key_value_heads, " does not divide num_attention_heads ", c.num_attention_heads));
  c.head_dim = in.get("head_dim", std::max<int64_t>(c.hidden_size / c.num_attention_heads, 1), at_least(2));
  if (c.head_dim % 2 != 0) in.fail("head_dim", cat(c.head_dim, " must be even (rotary halves)"));
  c.intermediate_size = in.get("intermediate_size", c.intermediate_size, at_least(1));
  c.moe_intermediate_size = in.get("moe_intermediate_size", c.moe_intermediate_size, at_least(1));
  c.num_experts = in.get("num_experts", c.num_experts, at_least(0));
  c.num_experts_per_tok = in.get("num_experts_per_tok", c.num_experts_per_tok, at_least(1));
  if (c.num_experts > 0 && c.num_experts_per_tok > c.num_experts)
    in.fail("num_experts_per_tok", cat(c.num_experts_per_tok, " exceeds num_experts ", c.num_experts));
  c.norm_topk_prob = in.get("norm_topk_prob", c.norm_topk_prob);
  c.decoder_sparse_step = in.get("decoder_sparse_step", c.decoder_sparse_step, at_least(1));
  c.mlp_only_layers = in.get("mlp_only_layers", c.mlp_only_layers);
  for (int64_t l : c.mlp_only_layers)
    if (l < 0 || l >= c.num_hidden_layers)
      in.fail("mlp_only_layers", cat("layer ", l, " is not a layer (num_hidden_layers ", c.num_hidden_layers, ")"));
  c.rms_norm_eps = in.get("rms_norm_eps", c.rms_norm_eps, positive());
  c.output_router_logits = in.get("output_router_logits", c.output_router_logits);
  c.router_aux_loss_coef = in.get("router_aux_loss_coef", c.router_aux_loss_coef, at_least(0));
  c.attention_bias = in.get("attention_bias", c.attention_bias);
  c.hidden_act = read_activation(in, "hidden_act", c.hidden_act);
  c.pad_token_id = in.optional<int64_t>("pad_token_id");
  if (c.pad_token_id && (*c.pad_token_id < 0 || *c.pad_token_id >= c.vocab_size))
    in.fail("pad_token_id", cat(*c.pad_token_id, " is not a token id (vocab_size ", c.vocab_size, ")"));
  // transformers' thinker attends over the whole sequence whatever sliding_window says; a window that a
  // config really switches on is refused rather than silently ignored.
  if (in.get("use_sliding_window", false) && in.has("sliding_window"))
    in.fail("use_sliding_window",
            "sliding-window attention is not supported (the Qwen3-Omni thinker attends over the "
            "whole sequence); set use_sliding_window to false");
  require_value<int64_t>(in, "shared_expert_intermediate_size", 0, "0 (no shared expert in the thinker)");

  // Rope: transformers-5 `rope_parameters` (theta inside) or the checkpoint's `rope_scaling` + `rope_theta`.
  const char* rope_key = in.has("rope_parameters") ? "rope_parameters"
                         : in.has("rope_scaling")  ? "rope_scaling"
                                                   : nullptr;
  if (in.has("rope_theta")) c.rope_theta = in.required<double>("rope_theta", positive());
  if (rope_key) {
    ConfigReader rope = in.object(rope_key);
    if (rope.has("rope_theta")) c.rope_theta = rope.required<double>("rope_theta", positive());
    c.mrope_section = rope.get("mrope_section", c.mrope_section);
    for (int64_t n : c.mrope_section)
      if (n < 0) rope.fail("mrope_section", cat("entry ", n, " is negative"));
    for (const char* type_key : {"rope_type", "type"})
      if (rope.has(type_key) && rope.required<std::string>(type_key) != "default")
        rope.fail(type_key, "only the 'default' rope type is supported");
    for (const char* flag : {"interleaved", "mrope_interleaved"})
      if (rope.has(flag) && !rope.required<bool>(flag)) rope.fail(flag, "only interleaved M-RoPE is supported");
  }
  if (c.mrope_section.size() != 3)
    in.fail(rope_key ? rope_key : "rope_parameters", "mrope_section must have 3 entries");
  if (2 * (c.mrope_section[0] + c.mrope_section[1] + c.mrope_section[2]) != c.head_dim)
    in.fail(rope_key ? rope_key : "head_dim", "mrope_section must sum to head_dim / 2");
  return c;
}

}  // namespace

ThinkerConfig load_thinker_config(const std::string& path) {
  std::string file =
      std::filesystem::is_directory(path) ? (std::filesystem::path(path) / "config.json").string() : path;
  return read_thinker_config(load_json_file(file), file);
}

ThinkerConfig read_thinker_config(const nlohmann::json& root, const std::string& file) {
  ConfigReader top(root, file);
  bool full = top.has("thinker_config");
  if (!full && top.get<std::string>("model_type", "") != "qwen3_omni_moe_thinker")
    throw Error(file +
                ": not a Qwen3-Omni config (no 'thinker_config' and model_type is not 'qwen3_omni_moe_thinker')");
  if (full) check_model_type(top, "qwen3_omni_moe");
  ConfigReader in = full ? top.object("thinker_config") : top;
  if (full) check_model_type(in, "qwen3_omni_moe_thinker");

  ThinkerConfig c;
  c.audio = read_audio(in.object("audio_config"));
  c.vision = read_vision(in.object("vision_config"));
  c.text = read_text(in.object("text_config"));
  const Range token = between(0, static_cast<double>(c.text.vocab_size - 1));
  c.audio_token_id = in.required<int64_t>("audio_token_id", token);
  c.image_token_id = in.required<int64_t>("image_token_id", token);
  c.video_token_id = in.required<int64_t>("video_token_id", token);
  c.audio_start_token_id = in.required<int64_t>("audio_start_token_id", token);
  c.audio_end_token_id = in.get<int64_t>("audio_end_token_id", c.audio_start_token_id + 1, token);
  c.vision_start_token_id = in.required<int64_t>("vision_start_token_id", token);
  c.vision_end_token_id = in.get<int64_t>("vision_end_token_id", c.vision_start_token_id + 1, token);
  c.position_id_per_seconds = in.required<double>("position_id_per_seconds", positive());
  c.tie_word_embeddings = in.get("tie_word_embeddings", c.tie_word_embeddings);
  if (c.vision.out_hidden_size != c.text.hidden_size)
    in.fail("vision_config", "out_hidden_size must equal text_config.hidden_size");
  if (c.audio.output_dim != c.text.hidden_size)
    in.fail("audio_config", "output_dim must equal text_config.hidden_size");
  return c;
}

}  // namespace omnitune
