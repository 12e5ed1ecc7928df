#include "omnitune/io/tensor_pieces.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "omnitune/io/torch_tensors.h"
#include "test_util.h"

namespace omnitune {

namespace {

// Rows [first, first + count) of `whole` as a file with their offset in DCP_SHARDING_INFO.
void write_block(const std::string& path, const std::string& name, const at::Tensor& whole, int64_t first,
                 int64_t count) {
  std::vector<int64_t> at(static_cast<size_t>(whole.dim()), 0);
  at[0] = first;
  save_tensors(path, {{name, whole.narrow(0, first, count)}}, {{kShardingInfoKey, sharding_info({name}, {at})}});
}

}  // namespace

TEST(TensorPieces, BlocksOfRowsReadAsTheWholeTensor) {
  test::TempDir dir;
  const at::Tensor w = at::arange(7 * 3, at::kFloat).view({7, 3});
  write_block(dir.file("a.safetensors"), "w", w, 4, 3);  // listed out of order on purpose
  write_block(dir.file("b.safetensors"), "w", w, 0, 4);
  save_tensors(dir.file("c.safetensors"), {{"whole", at::ones({2})}, {"step", at::scalar_tensor(3, at::kLong)}});
  save_tensors(dir.file("d.safetensors"), {{"step", at::scalar_tensor(3, at::kLong)}});
  TensorPieces p(
      {dir.file("a.safetensors"), dir.file("b.safetensors"), dir.file("c.safetensors"), dir.file("d.safetensors")});
  EXPECT_TRUE(p.sharded());
  EXPECT_EQ(p.shape("w"), (std::vector<int64_t>{7, 3}));
  EXPECT_TRUE(at::equal(p.read("w"), w));
  EXPECT_TRUE(at::equal(p.read("w", 2, 4), w.narrow(0, 2, 4)));  // across the two blocks
  EXPECT_TRUE(at::equal(p.read("w", 5, 2), w.narrow(0, 5, 2)));  // inside one
  EXPECT_EQ(p.read("w", 7, 0).size(0), 0);
  EXPECT_EQ(p.read("step").item<int64_t>(), 3);
  EXPECT_EQ(p.pieces("whole").size(), 1u);
  EXPECT_NE(test::error_of([&] { p.read("w", 5, 3); }).find("outside its 7 rows"), std::string::npos);
  EXPECT_NE(test::error_of([&] { p.read("v"); }).find("closest: w"), std::string::npos);
}

TEST(TensorPieces, GapsOverlapsAndMismatchedBlocksAreErrors) {
  test::TempDir dir;
  const at::Tensor w = at::arange(12, at::kFloat).view({6, 2});
  write_block(dir.file("a.safetensors"), "w", w, 0, 3);
  write_block(dir.file("gap.safetensors"), "w", w, 4, 2);
  write_block(dir.file("overlap.safetensors"), "w", w, 2, 4);
  save_tensors(dir.file("wide.safetensors"), {{"w", at::zeros({3, 5})}},
               {{kShardingInfoKey, sharding_info({"w"}, {{3, 0}})}});
  save_tensors(dir.file("cols.safetensors"), {{"w", at::zeros({3, 2})}},
               {{kShardingInfoKey, sharding_info({"w"}, {{3, 1}})}});
  auto open = [&](const char* second) {
    return test::error_of([&] { TensorPieces({dir.file("a.safetensors"), dir.file(second)}); });
  };
  EXPECT_NE(open("gap.safetensors").find("rows from 4, but the blocks before end at row 3"), std::string::npos);
  EXPECT_NE(open("overlap.safetensors").find("blocks overlap"), std::string::npos);
  EXPECT_NE(open("wide.safetensors").find("does not match its block"), std::string::npos);
  EXPECT_NE(open("cols.safetensors").find("only blocks of rows"), std::string::npos);
}

}  // namespace omnitune
