#include "omnitune/train/model_config.h"

#include "omnitune/core/closest_match.h"
#include "omnitune/core/config_file.h"
#include "omnitune/core/config_reader.h"

namespace omnitune {

namespace {

// The seed's size keys: "unchecked, invalid" by its own README; the architecture is config.json's.
const std::vector<std::string> kSizeKeys = {"model_id", "num_layers", "hidden_size", "num_attention_heads",
                                            "max_position_embeddings"};

void accept_ignored(ConfigReader& in, const std::vector<std::string>& keys, ModelConfig& c) {
  for (const auto& key : keys)
    if (in.present(key)) c.ignored.push_back(in.path() + "." + key);
}

TowerSettings read_tower(ConfigReader in, ModelConfig& c, bool has_attention) {
  TowerSettings t;
  t.freeze = in.get("freeze", false);
  accept_ignored(in, kSizeKeys, c);
  if (has_attention) {
    if (in.has("attn_implementation")) {
      AttentionBackend b;
      b.impl = parse_attn_impl(in.required<std::string>("attn_implementation"), in.where("attn_implementation"));
      if (in.has("attn_layout"))
        b.layout = parse_attn_layout(in.required<std::string>("attn_layout"), in.where("attn_layout"));
      t.attention = b;
    } else if (in.has("attn_layout")) {
      in.fail("attn_layout", "needs attn_implementation next to it");
    }
    t.recompute = in.get("recompute", false);
    t.activation_offload = in.get("activation_offload", false);
    if (t.activation_offload) t.recompute = true;
  }
  in.finish();
  return t;
}

const EnumNames<LossType> kLossTypeNames = {{LossType::kDefault, "default"},
                                            {LossType::kPerSample, "per_sample_loss"},
                                            {LossType::kPerToken, "per_token_loss"}};
const EnumNames<LossComputeMode> kComputeModeNames = {{LossComputeMode::kDefault, "default"},
                                                      {LossComputeMode::kChunk, "chunk"},
                                                      {LossComputeMode::kDynamicChunk, "dynamic_chunk"}};

LossConfig read_loss(ConfigReader in) {
  LossConfig l;
  l.type = in.get_enum("loss_type", kLossTypeNames, LossType::kDefault, "loss_type");
  l.compute_mode = in.get_enum("compute_mode", kComputeModeNames, LossComputeMode::kDefault, "compute_mode");
  l.chunk_size =
      in.get<int64_t>("chunk_size", l.compute_mode == LossComputeMode::kDynamicChunk ? 4096 : 1024, at_least(1));
  l.router_aux_loss_coef = in.optional<double>("router_aux_loss_coef", at_least(0));
  in.finish();
  return l;
}

}  // namespace

ModelConfig load_model_config(const std::string& path) { return read_model_config(load_json_file(path), path); }

ModelConfig read_model_config(const nlohmann::json& root, const std::string& path) {
  ModelConfig c;
  c.path = path;
  ConfigReader in(root, path);
  std::string id = in.required<std::string>("model_id");
  if (id != "qwen3_omni_moe") in.fail("model_id", "OmniTune trains 'qwen3_omni_moe', not '" + id + "'");
  c.init_from_hf_path = in.get<std::string>("init_from_hf_path", "");
  if (in.has("image_encoder")) {
    ConfigReader image = in.object("image_encoder");
    if (image.has("vision_encoder")) c.vision = read_tower(image.object("vision_encoder"), c, true);
    if (image.has("vision_projector")) c.vision_projector = read_tower(image.object("vision_projector"), c, false);
    image.finish();
  }
  if (in.has("audio_encoder")) {
    ConfigReader audio = in.object("audio_encoder");
    if (audio.has("audio_encoder")) c.audio = read_tower(audio.object("audio_encoder"), c, true);
    audio.finish();
  }
  if (in.has("text_decoder")) c.text = read_tower(in.object("text_decoder"), c, true);
  if (in.has("loss_cfg")) c.loss = read_loss(in.object("loss_cfg"));
  if (in.has("lora")) c.lora = read_lora_settings(in.object("lora"));
  if (in.has("freeze")) {
    const auto patterns = in.required<std::vector<std::string>>("freeze");
    for (size_t i = 0; i < patterns.size(); ++i)
      c.freeze_patterns.emplace_back(patterns[i], in.where(cat("freeze[", i, "]")));
  }
  c.bf16_position_ids = in.get("bf16_position_ids", false);
  if (in.has("patch")) {  // Megatron-side patches of the seed (async clip-grad): nothing to patch here
    ConfigReader patch = in.object("patch");
    accept_ignored(patch, {"clip_grad_async"}, c);
    patch.finish();
  }
  in.finish();
  return c;
}

}  // namespace omnitune
