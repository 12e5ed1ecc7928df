#include "omnitune/train/fsdp2_config.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {

using test::error_of;

TEST(Fsdp2Config, ParsesTheShippedExample) {
  Fsdp2Config c = load_fsdp2_config(OMNITUNE_SOURCE_DIR "/examples/qwen3omni/fsdp2_config.yaml");
  EXPECT_FALSE(c.sharding_size.has_value());  // auto
  EXPECT_TRUE(c.reshard_after_forward);
  EXPECT_EQ(c.param_dtype, Precision::kBFloat16);
  EXPECT_EQ(c.reduce_dtype, Precision::kFloat32);
  EXPECT_TRUE(c.cast_forward_inputs);
  EXPECT_EQ(c.num_to_forward_prefetch, 1);
  EXPECT_EQ(c.num_to_backward_prefetch, 1);
  EXPECT_FALSE(c.offload_to_cpu);
  EXPECT_TRUE(c.ignored.empty());
}

TEST(Fsdp2Config, DefaultsAndExplicitValues) {
  test::TempDir dir;
  test::write_text(dir.file("empty.yaml"), "");
  Fsdp2Config d = load_fsdp2_config(dir.file("empty.yaml"));
  EXPECT_EQ(d.param_dtype, Precision::kBFloat16);
  EXPECT_FALSE(d.sharding_size.has_value());

  test::write_text(dir.file("c.yaml"),
                   "sharding_size: 4\nparam_dtype: float32\noutput_dtype: bf16\nreshard_after_forward: False\n"
                   "ignored_modules: [visual]\nuse_reentrant: true\n");
  Fsdp2Config c = load_fsdp2_config(dir.file("c.yaml"));
  EXPECT_EQ(c.sharding_size, 4);
  EXPECT_EQ(c.param_dtype, Precision::kFloat32);
  EXPECT_EQ(c.output_dtype, Precision::kBFloat16);
  EXPECT_FALSE(c.reshard_after_forward);
  EXPECT_EQ(c.ignored_modules, std::vector<std::string>{"visual"});
  EXPECT_EQ(c.ignored, std::vector<std::string>{"use_reentrant"});

  test::write_text(dir.file("null.yaml"), "sharding_size: null\n");
  EXPECT_EQ(load_fsdp2_config(dir.file("null.yaml")).sharding_size, 1);
}

TEST(Fsdp2Config, BadInputNamesFileKeyAndFix) {
  test::TempDir dir;
  test::write_text(dir.file("typo.yaml"), "param_dtype: bf16\nreshard_after_forwad: true\n");
  EXPECT_EQ(error_of([&] { load_fsdp2_config(dir.file("typo.yaml")); }),
            dir.file("typo.yaml") +
                ": $.reshard_after_forwad: unknown key 'reshard_after_forwad' (did you mean "
                "'reshard_after_forward'?)");
  test::write_text(dir.file("dtype.yaml"), "param_dtype: bf61\n");
  EXPECT_EQ(
      error_of([&] { load_fsdp2_config(dir.file("dtype.yaml")); }),
      dir.file("dtype.yaml") + ": $.param_dtype: unknown dtype 'bf61' (did you mean 'bf16'?); valid: bf16, fp32, fp16");
  test::write_text(dir.file("type.yaml"), "num_to_forward_prefetch: one\n");
  EXPECT_EQ(error_of([&] { load_fsdp2_config(dir.file("type.yaml")); }),
            dir.file("type.yaml") + ": $.num_to_forward_prefetch: expected an integer, got string \"one\"");
  test::write_text(dir.file("auto.yaml"), "sharding_size: all\n");
  EXPECT_NE(error_of([&] { load_fsdp2_config(dir.file("auto.yaml")); }).find("expected 'auto' or a positive integer"),
            std::string::npos);
}

}  // namespace omnitune
