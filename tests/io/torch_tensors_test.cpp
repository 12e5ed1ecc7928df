#include "omnitune/io/torch_tensors.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {

TEST(TorchTensors, EveryDtypeRoundTripsBitExact) {
  test::TempDir dir;
  NamedTensors tensors;
  at::manual_seed(0);
  for (DType d : {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kI64, DType::kI32, DType::kI16,
                  DType::kI8, DType::kU8, DType::kBool, DType::kF8E4M3, DType::kF8E5M2}) {
    // Random bytes reinterpreted as the dtype: covers NaN payloads, denormals and negative zero.
    at::Tensor raw = at::randint(0, 256, {3, 5 * static_cast<int64_t>(dtype_size(d))}, at::kByte);
    if (d == DType::kBool) raw = raw.remainder(2);
    tensors.emplace_back(dtype_name(d), raw.view(to_scalar_type(d)));
  }
  tensors.emplace_back("scalar", at::scalar_tensor(3.5, at::kFloat));
  tensors.emplace_back("empty", at::empty({0, 4}, at::kBFloat16));
  tensors.emplace_back("strided", at::arange(12, at::kFloat).view({3, 4}).t());  // non-contiguous input
  save_tensors(dir.file("all.safetensors"), tensors, {{"k", "v"}});

  SafetensorsFile f(dir.file("all.safetensors"));
  for (const auto& [name, expected] : tensors) {
    at::Tensor got = read_tensor(f, f.at(name));
    EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), expected.sizes()) << name;
    at::Tensor e = expected.contiguous();
    EXPECT_EQ(std::memcmp(got.data_ptr(), e.data_ptr(), e.nbytes()), 0) << name;
  }
}

TEST(TorchTensors, ReadsAreZeroCopyAndOutliveTheFileObject) {
  test::TempDir dir;
  save_tensors(dir.file("x.safetensors"), {{"w", at::arange(6, at::kFloat)}});
  at::Tensor view;
  const void* mapped = nullptr;
  {
    SafetensorsFile f(dir.file("x.safetensors"));
    view = read_tensor(f, f.at("w"));
    mapped = f.bytes(f.at("w")).data();
  }
  EXPECT_EQ(view.data_ptr(), mapped);         // a view of the mapping, not a copy
  EXPECT_EQ(view.sum().item<float>(), 15.f);  // still valid: the tensor holds the mapping
  view.mul_(2);                               // private copy-on-write pages
  SafetensorsFile again(dir.file("x.safetensors"));
  EXPECT_EQ(read_tensor(again, again.at("w")).sum().item<float>(), 15.f);
}

TEST(TorchTensors, ShardedSaveReadsBack) {
  test::TempDir dir;
  NamedTensors tensors;
  for (int i = 0; i < 6; ++i) tensors.emplace_back("layer." + std::to_string(i), at::full({64}, i, at::kBFloat16));
  auto files = save_tensors_sharded(dir.path().string(), tensors, 300);
  EXPECT_EQ(files.size(), 4u);  // 3 shards of two 128-byte tensors + index
  SafetensorsCheckpoint ckpt(dir.path().string());
  for (const auto& [name, t] : tensors) EXPECT_TRUE(at::equal(read_tensor(ckpt, name), t)) << name;
}

TEST(TorchTensors, UnsupportedDtypeIsAnError) {
  test::TempDir dir;
  std::string message = test::error_of([&] {
    save_tensors(dir.file("c.safetensors"), {{"z", at::zeros({2}, at::kComplexFloat)}});
  });
  EXPECT_NE(message.find("tensor 'z': dtype ComplexFloat cannot be stored in safetensors"), std::string::npos)
      << message;
}

}  // namespace omnitune
