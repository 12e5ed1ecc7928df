#include "omnitune/io/safetensors_file.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "omnitune/io/atomic_file.h"
#include "test_util.h"

namespace omnitune {

using test::error_of;

TEST(SafetensorsFile, WriteThenReadIsExact) {
  test::TempDir dir;
  std::vector<float> a = {1.5f, -2.f, 3.25f};
  std::vector<uint8_t> b = {1, 0, 1, 1};
  std::vector<int64_t> c = {-7};
  write_safetensors(dir.file("x.safetensors"),
                    {{"b", DType::kBool, {2, 2}, b.data(), b.size()},
                     {"a", DType::kF32, {3}, a.data(), a.size() * 4},
                     {"c", DType::kI64, {}, c.data(), 8}},
                    {{"format", "pt"}});
  SafetensorsFile f(dir.file("x.safetensors"));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "c");  // widest elements first keeps every tensor aligned
  auto bytes = f.bytes(f.at("a"));
  ASSERT_EQ(bytes.size(), 12u);
  EXPECT_EQ(std::memcmp(bytes.data(), a.data(), 12), 0);
  EXPECT_EQ(std::memcmp(f.bytes(f.at("b")).data(), b.data(), 4), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.bytes(f.at("c")).data()) % 8, 0u);
  EXPECT_EQ(error_of([&] { f.at("aa"); }), dir.file("x.safetensors") + ": no tensor 'aa' (did you mean 'a'?)");
}

TEST(SafetensorsFile, WritesThroughTheMappingNeverReachTheFile) {
  test::TempDir dir;
  std::vector<float> a = {1.f, 2.f};
  write_safetensors(dir.file("x.safetensors"), {{"a", DType::kF32, {2}, a.data(), 8}});
  {
    SafetensorsFile f(dir.file("x.safetensors"));
    f.bytes(f.at("a"))[0] = 0xff;
  }
  SafetensorsFile again(dir.file("x.safetensors"));
  EXPECT_EQ(std::memcmp(again.bytes(again.at("a")).data(), a.data(), 8), 0);
}

TEST(SafetensorsFile, RejectsSizeMismatchAndKeepsTheOldFile) {
  test::TempDir dir;
  std::vector<float> a = {1.f, 2.f};
  write_safetensors(dir.file("x.safetensors"), {{"a", DType::kF32, {2}, a.data(), 8}});
  EXPECT_NE(error_of([&] {
              write_safetensors(dir.file("x.safetensors"), {{"a", DType::kF32, {3}, a.data(), 8}});
            }).find("tensor 'a': shape and dtype need 12 bytes, got 8"),
            std::string::npos);
  SafetensorsFile f(dir.file("x.safetensors"));
  EXPECT_EQ(f.at("a").shape, std::vector<int64_t>{2});
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1u);  // no temporary left behind
}

TEST(SafetensorsFile, OpenErrorsNameTheFile) {
  test::TempDir dir;
  EXPECT_NE(error_of([&] { SafetensorsFile f(dir.file("none.safetensors")); }).find("none.safetensors: cannot open"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { SafetensorsFile f(dir.path().string()); }), dir.path().string() + ": not a regular file");
  test::write_text(dir.file("empty.safetensors"), "");
  EXPECT_NE(error_of([&] { SafetensorsFile f(dir.file("empty.safetensors")); }).find("0 bytes"), std::string::npos);
}

TEST(AtomicFile, AbandonedWriteLeavesNothing) {
  test::TempDir dir;
  write_file_atomic(dir.file("t.txt"), "old");
  {
    AtomicFileWriter w(dir.file("t.txt"));
    w.write("new", 3);
  }  // no commit
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1u);
  std::ifstream in(dir.file("t.txt"));
  std::string text;
  in >> text;
  EXPECT_EQ(text, "old");
  EXPECT_NE(error_of([&] { AtomicFileWriter w(dir.file("missing/t.txt")); }).find("cannot create file"),
            std::string::npos);
}

}  // namespace omnitune
