#include "omnitune/weights/config_match.h"

#include <gtest/gtest.h>

#include "omnitune/core/config_file.h"
#include "test_util.h"

namespace omnitune {
namespace {

nlohmann::json tiny() { return load_json_file(OMNITUNE_SOURCE_DIR "/assets/configs/tiny-qwen3-omni/config.json"); }

TEST(ConfigMatch, SameConfigAndMetadataOnlyChanges) {
  nlohmann::json a = tiny(), b = tiny();
  EXPECT_TRUE(thinker_config_differences(a, b).empty());
  b["thinker_config"]["dtype"] = "bfloat16";
  b["thinker_config"]["text_config"]["output_router_logits"] = true;
  b["thinker_config"]["text_config"]["_name_or_path"] = "/somewhere";
  b["talker_config"]["text_config"]["num_hidden_layers"] = 7;  // not the thinker
  b["transformers_version"] = "0";
  EXPECT_TRUE(thinker_config_differences(a, b).empty());
  check_same_thinker_config(a, b, "x");
}

TEST(ConfigMatch, NamesEveryDifferingKey) {
  nlohmann::json a = tiny(), b = tiny();
  b["thinker_config"]["text_config"]["num_hidden_layers"] = 48;
  b["thinker_config"]["vision_config"].erase("depth");
  b["thinker_config"]["image_token_id"] = 1;
  EXPECT_EQ(thinker_config_differences(a, b),
            (std::vector<std::string>{"thinker_config.image_token_id (checkpoint 151655, expected 1)",
                                      "thinker_config.text_config.num_hidden_layers (checkpoint 4, expected 48)",
                                      "thinker_config.vision_config.depth (checkpoint 4, expected absent)"}));
  EXPECT_EQ(test::error_of([&] { check_same_thinker_config(a, b, "checkpoint /c"); }),
            "checkpoint /c: made for a different model config (3 thinker config keys differ):\n"
            "    thinker_config.image_token_id (checkpoint 151655, expected 1)\n"
            "    thinker_config.text_config.num_hidden_layers (checkpoint 4, expected 48)\n"
            "    thinker_config.vision_config.depth (checkpoint 4, expected absent)");
}

TEST(ConfigMatch, BareThinkerConfigComparesWithTheThinkerPart) {
  nlohmann::json full = tiny();
  nlohmann::json bare = full["thinker_config"];
  EXPECT_TRUE(thinker_config_differences(bare, full).empty());
  bare["text_config"]["hidden_size"] = 32;
  EXPECT_EQ(thinker_config_differences(bare, full),
            std::vector<std::string>{"thinker_config.text_config.hidden_size (checkpoint 32, expected 64)"});
}

}  // namespace
}  // namespace omnitune
