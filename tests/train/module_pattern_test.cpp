#include "omnitune/train/module_pattern.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {

TEST(ModulePattern, MatchesTheSeedsSyntax) {
  auto m = [](const std::string& p, const std::string& name) { return ModulePattern(p, "model.json").matches(name); };
  EXPECT_TRUE(m("visual.blocks.{*}", "visual.blocks.12"));
  EXPECT_FALSE(m("visual.blocks.{*}", "visual.blocks.12.attn"));
  EXPECT_TRUE(m("visual.blocks.{0-3}.attn", "visual.blocks.3.attn"));
  EXPECT_FALSE(m("visual.blocks.{0-3}.attn", "visual.blocks.4.attn"));
  EXPECT_TRUE(m("model.layers.{10-12}.mlp", "model.layers.11.mlp"));
  EXPECT_FALSE(m("model.layers.{10-12}.mlp", "model.layers.1.mlp"));
  EXPECT_TRUE(m("*.mlp", "model.layers.3.mlp"));
  EXPECT_TRUE(m("audio_tower*", "audio_tower"));
  EXPECT_TRUE(m("model.layers.?.self_attn", "model.layers.7.self_attn"));
  EXPECT_FALSE(m("model.layers.?.self_attn", "model.layers.17.self_attn"));
  EXPECT_TRUE(m("a{*}b", "a123b"));
  EXPECT_FALSE(m("a{*}b", "ab"));
}

TEST(ModulePattern, MalformedPatternsAreErrorsNamingThem) {
  for (const char* bad :
       {"layers.{1-2-3}", "layers.{3-1}", "layers.{x}", "layers.{1-}", "layers.{", "", "l.{99999999999999999999-1}"})
    EXPECT_NE(test::error_of([&] {
                ModulePattern(bad, "m.json: $.freeze[0]");
              }).find(std::string("m.json: $.freeze[0]: pattern '") + bad + "'"),
              std::string::npos)
        << bad;
}

TEST(ModulePattern, ManyStarsStayFast) {
  // A regex engine backtracks exponentially here (8 stars took 108 s); the table answers at once (a hang
  // would run into the test timeout).
  const std::string name(200, 'a');
  EXPECT_FALSE(ModulePattern("*a*a*a*a*a*a*a*a*a*a*a*a*b", "p").matches(name));
  EXPECT_TRUE(ModulePattern("*a*a*a*a*a*a*a*a*", "p").matches(name));
}

}  // namespace omnitune
