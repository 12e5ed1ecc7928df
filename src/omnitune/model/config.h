// model/config: the Qwen3-Omni thinker's hyperparameters, read from a Hugging Face config.json
// (the full Qwen3OmniMoeForConditionalGeneration config with `thinker_config`, or a bare thinker
// config). Defaults are transformers' class defaults, except the special-token ids, which must be
// present: the class defaults are wrong for the released checkpoints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omnitune/model/activation.h"

namespace omnitune {

struct AudioConfig {
  int64_t num_mel_bins = 128;
  int64_t d_model = 1280;
  int64_t encoder_layers = 32;
  int64_t encoder_attention_heads = 20;
  int64_t encoder_ffn_dim = 5120;
  int64_t downsample_hidden_size = 480;
  int64_t output_dim = 3584;
  int64_t max_source_positions = 1500;
  int64_t n_window = 100;                     // conv chunk = 2 * n_window mel frames
  int64_t n_window_infer = 400;               // attention window in mel frames (multiple of 2 * n_window)
  int64_t conv_chunksize = 500;               // chunks per conv batch (memory only)
  Activation activation = Activation::kGelu;  // activation_function: encoder layers' fc1 -> fc2 and proj1 -> proj2
};

struct VisionConfig {
  int64_t depth = 27;
  int64_t hidden_size = 1152;
  int64_t num_heads = 16;
  int64_t intermediate_size = 4304;
  int64_t in_channels = 3;
  int64_t patch_size = 16;
  int64_t temporal_patch_size = 2;
  int64_t spatial_merge_size = 2;
  int64_t out_hidden_size = 3584;
  int64_t num_position_embeddings = 2304;  // a square: side x side learned table
  std::vector<int64_t> deepstack_visual_indexes = {8, 16, 24};
  Activation hidden_act = Activation::kGeluTanh;  // the blocks' MLP (the mergers always use erf GELU)
  int64_t patch_dim() const { return in_channels * temporal_patch_size * patch_size * patch_size; }  // 1536
};

struct TextConfig {
  int64_t vocab_size = 3584;
  int64_t hidden_size = 2048;
  int64_t num_hidden_layers = 28;
  int64_t num_attention_heads = 28;
  int64_t num_key_value_heads = 4;
  int64_t head_dim = 0;               // from config; hidden_size / num_attention_heads when absent (as transformers)
  int64_t intermediate_size = 18944;  // dense-MLP layers (mlp_only_layers) only
  int64_t moe_intermediate_size = 768;
  int64_t num_experts = 128;
  int64_t num_experts_per_tok = 8;
  bool norm_topk_prob = true;
  int64_t decoder_sparse_step = 1;
  std::vector<int64_t> mlp_only_layers;
  double rms_norm_eps = 1e-6;
  double rope_theta = 1e6;
  std::vector<int64_t> mrope_section = {24, 20, 20};  // T, H, W frequency counts (sum = head_dim / 2)
  bool output_router_logits = false;
  double router_aux_loss_coef = 0.001;
  bool attention_bias = false;
  Activation hidden_act = Activation::kSilu;  // experts and dense MLPs: down(act(gate) * up)
  std::optional<int64_t> pad_token_id;        // its embedding row gets no gradient (padding_idx)

  bool is_moe_layer(int64_t layer) const;
};

struct ThinkerConfig {
  AudioConfig audio;
  VisionConfig vision;
  TextConfig text;
  int64_t audio_token_id = 0;        // <|audio_pad|>
  int64_t image_token_id = 0;        // <|image_pad|>
  int64_t video_token_id = 0;        // <|video_pad|>
  int64_t audio_start_token_id = 0;  // <|audio_start|>
  int64_t audio_end_token_id = 0;
  int64_t vision_start_token_id = 0;  // <|vision_start|>
  int64_t vision_end_token_id = 0;
  double position_id_per_seconds = 25;
  bool tie_word_embeddings = false;
};

// Reads `<dir>/config.json` (or the file itself when `path` is a file). Errors name file and JSON path.
ThinkerConfig load_thinker_config(const std::string& path);
// The same from the JSON already parsed (`file` labels errors).
ThinkerConfig read_thinker_config(const nlohmann::json& root, const std::string& file);

}  // namespace omnitune
