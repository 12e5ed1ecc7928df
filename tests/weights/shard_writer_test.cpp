#include "omnitune/weights/shard_writer.h"

#include <ATen/ATen.h>

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "omnitune/core/config_file.h"
#include "omnitune/io/safetensors_checkpoint.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/weights/tensor_stream.h"
#include "test_util.h"

namespace omnitune {
namespace {

namespace fs = std::filesystem;
using test::error_of;

StreamedTensor streamed(const std::string& name, const at::Tensor& t, at::ScalarType dtype) {
  return {name, to_dtype(dtype, name), t.sizes().vec(),
          [t, dtype](const ByteSink& sink) { emit_tensor(t, dtype, sink); }};
}

TEST(ShardWriter, ShardsInOrderWithIndexAndConversion) {
  test::TempDir tmp;
  at::manual_seed(0);
  at::Tensor a = at::randn({100, 10}), b = at::randn({3, 4, 5}), c = at::randn({250});
  std::vector<StreamedTensor> tensors = {streamed("a", a, at::kFloat), streamed("b", b, at::kBFloat16),
                                         streamed("c", c, at::kHalf)};
  uint64_t progressed = 0;
  auto files = write_streamed_shards(tmp.path().string(), tensors, 4000, {{"format", "pt"}},
                                     [&](uint64_t n) { progressed += n; });
  EXPECT_EQ(progressed, 4000u + 120u + 500u);
  ASSERT_EQ(files.size(), 3u);  // a alone (4000 bytes), then b + c
  EXPECT_EQ(fs::path(files[0]).filename(), "model-00001-of-00002.safetensors");
  nlohmann::json index = load_json_file(files[2]);
  EXPECT_EQ(index["metadata"]["total_size"], 4620);
  EXPECT_EQ(index["weight_map"]["c"], "model-00002-of-00002.safetensors");
  SafetensorsCheckpoint ckpt(tmp.path().string());
  EXPECT_TRUE(at::equal(read_tensor(ckpt, "a"), a));
  EXPECT_TRUE(at::equal(read_tensor(ckpt, "b"), b.to(at::kBFloat16)));
  EXPECT_TRUE(at::equal(read_tensor(ckpt, "c"), c.to(at::kHalf)));
  EXPECT_EQ(ckpt.file_of("a").metadata().at("format"), "pt");
}

TEST(ShardWriter, WrongByteCountsAndDuplicatesAreErrors) {
  test::TempDir tmp;
  std::vector<float> data(4, 1.0f);
  StreamedTensor short_one{"t", DType::kF32, {5}, [&](const ByteSink& sink) { sink(data.data(), 16); }};
  EXPECT_EQ(error_of([&] { write_streamed_shards(tmp.path().string(), {short_one}, 1000); }),
            tmp.file("model.safetensors") + ": tensor 't' produced 16 of its 20 bytes");
  StreamedTensor long_one{"t", DType::kF32, {3}, [&](const ByteSink& sink) { sink(data.data(), 16); }};
  EXPECT_EQ(error_of([&] { write_streamed_shards(tmp.path().string(), {long_one}, 1000); }),
            tmp.file("model.safetensors") + ": tensor 't' produced more than its 12 bytes");
  EXPECT_TRUE(fs::is_empty(tmp.path()));  // nothing half-written
  EXPECT_EQ(error_of([&] {
              write_streamed_shards(tmp.path().string(), {long_one, long_one}, 1000);
            }),
            tmp.path().string() + ": tensor 't' would be written twice");
}

TEST(ShardWriter, MappedTensorsStreamAndReleasedPagesReadBackUnchanged) {
  test::TempDir tmp;
  at::manual_seed(1);
  at::Tensor big = at::randn({3000, 1000});  // 12 MB: several pages, one piece
  save_tensors(tmp.file("in.safetensors"), {{"big", big.to(at::kBFloat16)}, {"small", at::arange(10.0)}});
  SafetensorsFile file(tmp.file("in.safetensors"));
  fs::create_directories(tmp.path() / "out");
  std::vector<StreamedTensor> tensors;
  for (const auto& entry : file.tensors())
    tensors.push_back({entry.name, DType::kF32, entry.shape,
                       [&file, entry](const ByteSink& sink) { emit_mapped(file, entry, at::kFloat, sink); }});
  write_streamed_shards((tmp.path() / "out").string(), tensors, 1ull << 30);
  SafetensorsCheckpoint out((tmp.path() / "out").string());
  EXPECT_TRUE(at::equal(read_tensor(out, "big"), big.to(at::kBFloat16).to(at::kFloat)));
  EXPECT_TRUE(at::equal(read_tensor(out, "small"), at::arange(10.0)));
  for (const auto& entry : file.tensors()) release_pages(file, entry);  // again: harmless
  EXPECT_TRUE(at::equal(read_tensor(file, *file.find("big")), big.to(at::kBFloat16)));
}

}  // namespace
}  // namespace omnitune
