#include "omnitune/core/config_file.h"

#include <sys/stat.h>

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
)",
                      "t.yaml");
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
  // Cases where YAML 1.1 (PyYAML 6.0.4, run by hand) differs from a naive reading.
  auto k = parse_yaml(
      "a: +.\nb: 1e5\nc: 1.0e5\nd: 1.e+5\ne: .5\nf: -.5\ng: 1_0.5\nh: 017\ni: 1:30\nj: 0o17\n"
      "k: 0b101\nl: 1:30.5\nm: '" +
          std::string(100000, 'x') + "'\nn: " + std::string(100000, '9') + "\n",
      "py.yaml");
  EXPECT_EQ(k["a"], "+.");
  EXPECT_EQ(k["b"], "1e5");
  EXPECT_EQ(k["c"], "1.0e5");
  EXPECT_DOUBLE_EQ(k["d"].get<double>(), 1e5);
  EXPECT_DOUBLE_EQ(k["e"].get<double>(), 0.5);
  EXPECT_EQ(k["f"], "-.5");
  EXPECT_DOUBLE_EQ(k["g"].get<double>(), 10.5);
  EXPECT_EQ(k["h"], 15);
  EXPECT_EQ(k["i"], 90);
  EXPECT_EQ(k["j"], "0o17");
  EXPECT_EQ(k["k"], 5);
  EXPECT_DOUBLE_EQ(k["l"].get<double>(), 90.5);
  EXPECT_EQ(k["m"].get<std::string>().size(), 100000u);  // long scalars: no recursion per character
  EXPECT_EQ(k["n"].get<std::string>().size(), 100000u);  // too large for an integer: kept as text
  EXPECT_NE(error_of([] { parse_yaml("a: \xff\xfe\n", "u.yaml"); }).find("u.yaml:1: invalid UTF-8 at byte 3"),
            std::string::npos);
}

TEST(ConfigFile, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of([] { parse_yaml("a: 1\na: 2\n", "x.yaml"); }), "x.yaml:2: duplicate key 'a'");
  // An alias bomb (9 levels of 9 aliases: 9^9 = 387M values from ~300 bytes) stops at the value budget at once.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 9; ++k) bomb += ", " + prev;
    bomb += "]\n";
  }
  EXPECT_NE(
      error_of([&] { parse_yaml(bomb, "bomb.yaml"); }).find("bomb.yaml: the YAML expands to more than 100000 values"),
      std::string::npos);
  EXPECT_NO_THROW(parse_yaml("base: &b {x: 1}\nother: *b\n", "alias.yaml"));  // ordinary aliases still work
  // An alias inside its own anchor (found by the fuzzer: it recursed until the stack overflowed).
  EXPECT_NE(error_of([] {
              parse_yaml("base: &b {alyr: *b\n}\nother: *b\n", "cycle.yaml");
            }).find("cycle.yaml: the YAML nests deeper than 200 levels"),
            std::string::npos);
  std::string bad = error_of([] { parse_yaml("a: [1, 2\nb: 3\n", "y.yaml"); });
  EXPECT_EQ(bad.rfind("y.yaml:", 0), 0u) << bad;
  EXPECT_NE(bad.find("invalid YAML"), std::string::npos) << bad;

  test::TempDir dir;
  test::write_text(dir.file("bad.json"), "{\"a\": 1,}");
  std::string json_error = error_of([&] { load_json_file(dir.file("bad.json")); });
  EXPECT_NE(json_error.find("bad.json: invalid JSON"), std::string::npos) << json_error;
  // A number beyond double (nlohmann's out_of_range, not a parse_error) is an error like any other.
  EXPECT_NE(error_of([] { parse_json("{\"cutoff_len\": 1e6000}", "big.json"); }).find("big.json: invalid JSON"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_json_file(dir.file("none.json")); }).find("none.json: no such file"),
            std::string::npos);
  test::write_text(dir.file("twice.json"), R"({"a": {"b": 1, "c": [{"d": 1, "d": 2}], "b": 3}})");
  EXPECT_EQ(error_of([&] { load_json_file(dir.file("twice.json")); }),
            dir.file("twice.json") + ": $.a.c: key 'd' appears twice");
  test::write_text(dir.file("dir_twice.json"), R"({"x": 1, "y": {"x": 2}, "x": 3})");
  EXPECT_EQ(error_of([&] { load_json_file(dir.file("dir_twice.json")); }),
            dir.file("dir_twice.json") + ": $: key 'x' appears twice");
  ::mkfifo(dir.file("fifo.json").c_str(), 0600);  // would block a reader: refused without opening it
  EXPECT_NE(error_of([&] { load_json_file(dir.file("fifo.json")); }).find("not a regular file"), std::string::npos);
  EXPECT_NE(error_of([&] { load_json_file(dir.path().string()); }).find("is a directory"), std::string::npos);
}

}  // namespace omnitune
