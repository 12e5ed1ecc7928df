#include "omnitune/model/config.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "omnitune/core/config_file.h"
#include "test_util.h"

namespace omnitune {

using test::error_of;

namespace {
const std::string kTiny = OMNITUNE_SOURCE_DIR "/assets/configs/tiny-qwen3-omni";
const std::string kReal = OMNITUNE_SOURCE_DIR "/assets/configs/qwen3-omni-30b-a3b";

// Writes a modified copy of the tiny config and returns its path.
std::string with_change(const test::TempDir& dir, const std::function<void(nlohmann::json&)>& change) {
  nlohmann::json j = load_json_file(kTiny + "/config.json");
  change(j);
  test::write_text(dir.file("config.json"), j.dump());
  return dir.file("config.json");
}
}  // namespace

TEST(ModelConfig, ReadsTheRealCheckpointLayout) {
  ThinkerConfig c = load_thinker_config(kReal);  // rope_scaling + rope_theta
  EXPECT_EQ(c.text.hidden_size, 2048);
  EXPECT_EQ(c.text.head_dim, 128);
  EXPECT_EQ(c.text.num_experts, 128);
  EXPECT_EQ(c.text.num_experts_per_tok, 8);
  EXPECT_DOUBLE_EQ(c.text.rope_theta, 1e6);
  EXPECT_EQ(c.text.mrope_section, (std::vector<int64_t>{24, 20, 20}));
  EXPECT_EQ(c.audio_token_id, 151675);
  EXPECT_EQ(c.audio_start_token_id, 151669);
  EXPECT_DOUBLE_EQ(c.position_id_per_seconds, 13);
  EXPECT_EQ(c.vision.deepstack_visual_indexes, (std::vector<int64_t>{8, 16, 24}));
  EXPECT_EQ(c.audio.n_window_infer, 800);
}

TEST(ModelConfig, ReadsTheTransformers5Layout) {
  ThinkerConfig c = load_thinker_config(kTiny);  // rope_parameters with rope_theta inside
  EXPECT_EQ(c.text.head_dim, 32);
  EXPECT_EQ(c.text.mrope_section, (std::vector<int64_t>{6, 5, 5}));
  EXPECT_DOUBLE_EQ(c.text.rope_theta, 1e6);
  EXPECT_EQ(c.vision.patch_dim(), 1536);
}

TEST(ModelConfig, AcceptsWhatTransformersAccepts) {
  test::TempDir dir;
  std::string p = with_change(dir, [](auto& j) {
    auto& t = j["thinker_config"];
    t["vision_config"]["hidden_act"] = "quick_gelu";
    t["audio_config"]["activation_function"] = "gelu_new";
    t["text_config"]["hidden_act"] = "swish";
    t["text_config"]["sliding_window"] = 50;  // ignored while use_sliding_window is false, as in transformers
    t["text_config"]["use_sliding_window"] = false;
    t["text_config"]["pad_token_id"] = 0;
  });
  ThinkerConfig c = load_thinker_config(p);
  EXPECT_EQ(c.vision.hidden_act, Activation::kQuickGelu);
  EXPECT_EQ(c.audio.activation, Activation::kGeluNew);
  EXPECT_EQ(c.text.hidden_act, Activation::kSilu);
  EXPECT_EQ(c.text.pad_token_id, 0);
  EXPECT_FALSE(load_thinker_config(kReal).text.pad_token_id);  // null in the released config
}

TEST(ModelConfig, BareThinkerConfig) {
  test::TempDir dir;
  nlohmann::json j = load_json_file(kTiny + "/config.json")["thinker_config"];
  test::write_text(dir.file("config.json"), j.dump());
  EXPECT_EQ(load_thinker_config(dir.path().string()).text.num_hidden_layers, 4);
}

TEST(ModelConfig, ErrorsNamePathAndReason) {
  test::TempDir dir;
  std::string p = with_change(dir, [](auto& j) { j["thinker_config"].erase("audio_token_id"); });
  EXPECT_EQ(error_of([&] { load_thinker_config(p); }),
            p + ": $.thinker_config.audio_token_id: missing required key 'audio_token_id'");
  p = with_change(dir, [](auto& j) {
    j["thinker_config"]["text_config"]["rope_parameters"]["mrope_section"] = {6, 5, 4};
  });
  EXPECT_EQ(error_of([&] { load_thinker_config(p); }),
            p + ": $.thinker_config.text_config.rope_parameters: mrope_section must sum to head_dim / 2");
  p = with_change(dir, [](auto& j) { j["thinker_config"]["text_config"]["hidden_act"] = "quick_gelo"; });
  EXPECT_EQ(error_of([&] { load_thinker_config(p); })
                .rfind(p + ": $.thinker_config.text_config.hidden_act: unknown activation 'quick_gelo' (did you mean "
                           "'quick_gelu'?); "
                           "valid: gelu, ",
                       0),
            0u);
  p = with_change(dir, [](auto& j) { j["thinker_config"]["vision_config"]["hidden_act"] = "prelu"; });
  EXPECT_NE(error_of([&] { load_thinker_config(p); }).find("'prelu' has learnable parameters"), std::string::npos);
  p = with_change(dir, [](auto& j) {
    j["thinker_config"]["text_config"]["use_sliding_window"] = true;
    j["thinker_config"]["text_config"]["sliding_window"] = 50;
  });
  EXPECT_NE(
      error_of([&] { load_thinker_config(p); }).find("use_sliding_window: sliding-window attention is not supported"),
      std::string::npos);
  p = with_change(dir, [](auto& j) { j["thinker_config"]["text_config"]["pad_token_id"] = 1000000; });
  EXPECT_NE(error_of([&] { load_thinker_config(p); }).find("pad_token_id: 1000000 is not a token id"),
            std::string::npos);
  p = with_change(dir, [](auto& j) { j["thinker_config"]["text_config"]["num_experts"] = "four"; });
  EXPECT_EQ(error_of([&] { load_thinker_config(p); }),
            p + ": $.thinker_config.text_config.num_experts: expected an integer, got string \"four\"");
  p = with_change(dir, [](auto& j) { j.erase("thinker_config"); });
  EXPECT_NE(error_of([&] { load_thinker_config(p); }).find("not a Qwen3-Omni config"), std::string::npos);
}

}  // namespace omnitune
