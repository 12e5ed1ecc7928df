#include "omnitune/io/safetensors_checkpoint.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "omnitune/core/config_file.h"
#include "test_util.h"

namespace omnitune {

using test::error_of;
namespace fs = std::filesystem;

namespace {
struct Tensors {
  std::vector<std::vector<float>> data;
  std::vector<TensorBytes> list;
  explicit Tensors(int n) {
    data.resize(n);
    for (int i = 0; i < n; ++i) {
      data[i].assign(10, static_cast<float>(i));
      list.push_back({"t" + std::to_string(i), DType::kF32, {10}, data[i].data(), 40});
    }
  }
};
}  // namespace

TEST(SafetensorsCheckpoint, ShardedWriteAndRead) {
  test::TempDir dir;
  Tensors t(5);
  auto files = write_sharded_safetensors(dir.path().string(), t.list, 100);  // 2 tensors per shard
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(fs::path(files[0]).filename(), "model-00001-of-00003.safetensors");
  EXPECT_EQ(fs::path(files[3]).filename(), kIndexFileName);
  nlohmann::json index = load_json_file(files[3]);
  EXPECT_EQ(index["metadata"]["total_size"], 200);
  EXPECT_EQ(index["weight_map"]["t4"], "model-00003-of-00003.safetensors");

  SafetensorsCheckpoint ckpt(dir.path().string());
  EXPECT_EQ(ckpt.shards().size(), 3u);
  EXPECT_EQ(ckpt.names().size(), 5u);
  EXPECT_EQ(ckpt.total_bytes(), 200u);
  auto bytes = ckpt.bytes("t3");
  EXPECT_EQ(std::memcmp(bytes.data(), t.data[3].data(), 40), 0);
  EXPECT_EQ(error_of([&] { ckpt.entry("t9"); }), dir.path().string() + ": no tensor 't9' (did you mean 't0'?)");
}

TEST(SafetensorsCheckpoint, SingleFileWhenItFits) {
  test::TempDir dir;
  Tensors t(3);
  auto files = write_sharded_safetensors(dir.path().string(), t.list, 1000);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::path(files[0]).filename(), kSingleFileName);
  EXPECT_EQ(SafetensorsCheckpoint(dir.path().string()).names().size(), 3u);
  EXPECT_EQ(SafetensorsCheckpoint(files[0]).names().size(), 3u);
}

TEST(SafetensorsCheckpoint, IndexInconsistenciesAreErrors) {
  test::TempDir dir;
  Tensors t(4);
  auto files = write_sharded_safetensors(dir.path().string(), t.list, 80);
  std::string index_path = files.back();
  nlohmann::json index = load_json_file(index_path);

  auto with_index = [&](const nlohmann::json& j) {
    test::write_text(index_path, j.dump());
    return error_of([&] { SafetensorsCheckpoint c(dir.path().string()); });
  };
  nlohmann::json missing_shard = index;
  missing_shard["weight_map"]["t1"] = "model-00009-of-00009.safetensors";
  EXPECT_EQ(with_index(missing_shard),
            index_path + ": points at missing shard 'model-00009-of-00009.safetensors' (for tensor 't1')");

  nlohmann::json wrong_shard = index;
  wrong_shard["weight_map"]["t0"] = "model-00002-of-00002.safetensors";
  EXPECT_EQ(with_index(wrong_shard),
            index_path + ": lists tensor 't0' in 'model-00002-of-00002.safetensors', but that shard does not hold it");

  nlohmann::json unlisted = index;
  unlisted["weight_map"].erase("t3");
  EXPECT_EQ(with_index(unlisted), dir.file("model-00002-of-00002.safetensors") + ": holds tensor 't3' that " +
                                      kIndexFileName + " does not list");

  nlohmann::json escape = index;
  escape["weight_map"]["t0"] = "../x.safetensors";
  EXPECT_NE(with_index(escape).find("is not a file name in the directory"), std::string::npos);
  EXPECT_EQ(with_index(nlohmann::json::object()), index_path + ": missing the 'weight_map' object");
}

TEST(SafetensorsCheckpoint, DirectoryErrors) {
  test::TempDir dir;
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint c(dir.path().string()); }),
            dir.path().string() + ": no .safetensors files in this directory");
  EXPECT_EQ(error_of([&] { SafetensorsCheckpoint c(dir.file("nope")); }),
            dir.file("nope") + ": no such file or directory");
  Tensors t(1);
  write_safetensors(dir.file("a.safetensors"), t.list);
  write_safetensors(dir.file("b.safetensors"), t.list);
  EXPECT_NE(error_of([&] { SafetensorsCheckpoint c(dir.path().string()); }).find("2 .safetensors files but no"),
            std::string::npos);
}

TEST(SafetensorsCheckpoint, ParsesByteSizes) {
  const std::string f = "--max-shard-size";
  EXPECT_EQ(parse_byte_size("4GB", f), 4'000'000'000u);
  EXPECT_EQ(parse_byte_size("500MB", f), 500'000'000u);
  EXPECT_EQ(parse_byte_size("2KiB", f), 2048u);
  EXPECT_EQ(parse_byte_size("123", f), 123u);
  EXPECT_NE(error_of([&] { parse_byte_size("4GBB", f); }).find("did you mean 'GB'"), std::string::npos);
  EXPECT_NE(error_of([&] { parse_byte_size("big", f); }).find("--max-shard-size 'big': not a number"),
            std::string::npos);
  for (const char* huge : {"20000000000GB", "1e300", "nan", "inf", "-5GB", "0"})  // no wrap, no NaN, no zero
    EXPECT_NE(error_of([&] { parse_byte_size(huge, f); }).find("must be at least 1 byte and less than"),
              std::string::npos)
        << huge;
}

}  // namespace omnitune
