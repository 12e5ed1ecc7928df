// train/model_config: the seed's model.json (`--mm-model`), typed. The architecture always comes from
// the HF config.json of `init_from_hf_path`; the seed's per-tower size keys (num_layers, hidden_size,
// ...) are declared unchecked by the seed itself and are accepted and listed as ignored. What the file
// does decide: freezing, LoRA, attention backends, recomputation/offload and the loss.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omnitune/model/attention.h"
#include "omnitune/train/lora_config.h"
#include "omnitune/train/module_pattern.h"

namespace omnitune {

enum class LossType { kDefault, kPerSample, kPerToken };  // the seed's loss_cfg.loss_type
enum class LossComputeMode { kDefault, kChunk, kDynamicChunk };

struct LossConfig {
  LossType type = LossType::kDefault;
  LossComputeMode compute_mode = LossComputeMode::kDefault;
  int64_t chunk_size = 1024;                   // chunk: rows per chunk and sample; dynamic_chunk: the total
  std::optional<double> router_aux_loss_coef;  // overrides the HF config's coefficient; > 0 enables the aux loss
};

struct TowerSettings {
  bool freeze = false;
  std::optional<AttentionBackend> attention;  // none: sdpa, BNSD
  bool recompute = false;
  bool activation_offload = false;  // implies recompute
};

struct ModelConfig {
  std::string path;               // the model.json itself
  std::string init_from_hf_path;  // HF directory: config.json (+ weights unless meta init)
  TowerSettings vision, vision_projector, audio, text;
  std::vector<ModulePattern> freeze_patterns;  // module-name patterns (`*`, `?`, `{*}`, `{a-b}`), frozen recursively
  LossConfig loss;
  LoraSettings lora;                 // `lora` section: adapters train, the base stays frozen
  bool bf16_position_ids = false;    // the seed's LLaMA-Factory alignment (always on there)
  std::vector<std::string> ignored;  // keys accepted for compatibility that change nothing here
};

ModelConfig load_model_config(const std::string& path);
// The same from the JSON already parsed (`path` labels errors).
ModelConfig read_model_config(const nlohmann::json& root, const std::string& path);

}  // namespace omnitune
