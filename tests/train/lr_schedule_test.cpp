#include <gtest/gtest.h>

#include <cmath>

#include "omnitune/core/error.h"
#include "omnitune/train/lr_schedule.h"

namespace omnitune {
namespace {

TEST(LrSchedule, CosineWithWarmupStartsAtZeroAndEndsAtMin) {
  LrSchedule s{.lr = 1e-3, .min_lr = 1e-5, .style = LrDecayStyle::kCosine, .warmup_steps = 2, .decay_steps = 10};
  EXPECT_EQ(s.lr_at(0), 0.0);
  EXPECT_DOUBLE_EQ(s.lr_at(1), 5e-4);
  EXPECT_DOUBLE_EQ(s.lr_at(2), 1e-3);
  EXPECT_DOUBLE_EQ(s.lr_at(6), 1e-5 + (1e-3 - 1e-5) * 0.5);  // half way through the decay
  EXPECT_DOUBLE_EQ(s.lr_at(10), 1e-5);
  EXPECT_DOUBLE_EQ(s.lr_at(11), 1e-5);
}

TEST(LrSchedule, LinearAndConstant) {
  LrSchedule linear{.lr = 1.0, .min_lr = 0.0, .style = LrDecayStyle::kLinear, .warmup_steps = 0, .decay_steps = 4};
  EXPECT_DOUBLE_EQ(linear.lr_at(0), 1.0);
  EXPECT_DOUBLE_EQ(linear.lr_at(1), 0.75);
  EXPECT_DOUBLE_EQ(linear.lr_at(4), 0.0);
  LrSchedule constant{.lr = 0.5, .style = LrDecayStyle::kConstant, .warmup_steps = 1.5, .decay_steps = 4};
  EXPECT_DOUBLE_EQ(constant.lr_at(1), 0.5 / 1.5);
  EXPECT_DOUBLE_EQ(constant.lr_at(2), 0.5);
}

TEST(LrSchedule, BadValuesAreErrors) {
  EXPECT_THROW(parse_lr_decay_style("cosin"), Error);
  LrSchedule s{.lr = 1e-5, .min_lr = 1e-4};
  EXPECT_THROW(s.validate(), Error);
}

}  // namespace
}  // namespace omnitune
