#include "omnitune/core/config_reader.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {

using test::error_of;

TEST(ConfigReader, ReadsTypedValuesAndDefaults) {
  auto j = nlohmann::json::parse(R"({"a": 3, "b": "x", "c": [1, 2], "d": {"e": true}, "f": 1.5, "n": null})");
  ConfigReader in(j, "m.json");
  EXPECT_EQ(in.required<int>("a"), 3);
  EXPECT_EQ(in.get<std::string>("b", "y"), "x");
  EXPECT_EQ(in.get<std::string>("missing", "y"), "y");
  EXPECT_EQ(in.get<int>("n", 7), 7);  // null means absent
  EXPECT_EQ(in.required<std::vector<int64_t>>("c"), (std::vector<int64_t>{1, 2}));
  EXPECT_DOUBLE_EQ(in.required<double>("f"), 1.5);
  ConfigReader d = in.object("d");
  EXPECT_TRUE(d.required<bool>("e"));
  d.finish();
  in.finish();
}

TEST(ConfigReader, UnknownKeyNamesPathAndClosestKey) {
  auto j = nlohmann::json::parse(R"({"model": {"hidden_size": 1, "hiden_sise": 2}})");
  ConfigReader in(j, "model.json");
  ConfigReader model = in.object("model");
  model.required<int>("hidden_size");
  model.get<int>("num_layers", 1);
  EXPECT_EQ(error_of([&] { model.finish(); }),
            "model.json: $.model.hiden_sise: unknown key 'hiden_sise' (did you mean 'hidden_size'?)");
}

TEST(ConfigReader, WrongTypeAndMissingNameFileAndPath) {
  auto j = nlohmann::json::parse(R"({"a": "three", "list": [1, "x"], "big": 1e300})");
  ConfigReader in(j, "data.json");
  EXPECT_EQ(error_of([&] { in.required<int>("a"); }), "data.json: $.a: expected an integer, got string \"three\"");
  EXPECT_EQ(error_of([&] { in.required<std::vector<int>>("list"); }),
            "data.json: $.list[1]: expected an integer, got string \"x\"");
  EXPECT_EQ(error_of([&] { in.required<bool>("nope"); }), "data.json: $.nope: missing required key 'nope'");
  EXPECT_NE(error_of([&] { in.required<int>("big"); }).find("expected an integer"), std::string::npos);
  EXPECT_EQ(error_of([&] { in.object("a"); }), "data.json: $.a: expected an object, got string \"three\"");
}

TEST(ConfigReader, IntegerRange) {
  auto j = nlohmann::json::parse(R"({"a": 4294967296})");
  ConfigReader in(j, "f.json");
  EXPECT_EQ(in.required<int64_t>("a"), 4294967296);
  EXPECT_NE(error_of([&] { in.required<int>("a"); }).find("out of range"), std::string::npos);
}

}  // namespace omnitune
