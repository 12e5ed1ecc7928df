#include "omnitune/core/config_file.h"

#include <cmath>

#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {

using test::error_of;

TEST(ConfigFile, YamlScalarsResolveAsPyYaml) {
  auto j = parse_yaml(R"(
a: yes
b: Off
c: ~
d: 42
e: -0x1f
f: 1.5e-3
g: "true"
h: bf16
i: [1, two, 3.0]
j:
k: .inf
l: 1_000
m: '7'
)", "t.yaml");
  EXPECT_EQ(j["a"], true);
  EXPECT_EQ(j["b"], false);
  EXPECT_TRUE(j["c"].is_null());
  EXPECT_EQ(j["d"], 42);
  EXPECT_EQ(j["e"], -31);
  EXPECT_DOUBLE_EQ(j["f"].get<double>(), 1.5e-3);
  EXPECT_EQ(j["g"], "true");  // quoted: stays a string
  EXPECT_EQ(j["h"], "bf16");
  EXPECT_EQ(j["i"], nlohmann::json::parse(R"([1, "two", 3.0])"));
  EXPECT_TRUE(j["j"].is_null());
  EXPECT_TRUE(std::isinf(j["k"].get<double>()));
  EXPECT_EQ(j["l"], 1000);
  EXPECT_EQ(j["m"], "7");
}

TEST(ConfigFile, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of([] { parse_yaml("a: 1\na: 2\n", "x.yaml"); }), "x.yaml:2: duplicate key 'a'");
  std::string bad = error_of([] { parse_yaml("a: [1, 2\nb: 3\n", "y.yaml"); });
  EXPECT_EQ(bad.rfind("y.yaml:", 0), 0u) << bad;
  EXPECT_NE(bad.find("invalid YAML"), std::string::npos) << bad;

  test::TempDir dir;
  test::write_text(dir.file("bad.json"), "{\"a\": 1,}");
  std::string json_error = error_of([&] { load_json_file(dir.file("bad.json")); });
  EXPECT_NE(json_error.find("bad.json: invalid JSON"), std::string::npos) << json_error;
  EXPECT_NE(error_of([&] { load_json_file(dir.file("none.json")); }).find("none.json: cannot open"), std::string::npos);
}

}  // namespace omnitune
