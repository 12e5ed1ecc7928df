#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>

#include "omnitune/core/error.h"
#include "omnitune/train/adamw.h"

namespace omnitune {
namespace {

TEST(AdamW, TwoStepsFollowTheFormula) {
  at::Tensor p = at::tensor({1.0, -2.0}, at::kDouble);
  AdamW opt({{"w", p}}, {.beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1});
  const double g1[2] = {0.5, -1.0}, g2[2] = {-0.25, 2.0}, lr = 0.01;
  double w[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
  const double* grads[2] = {g1, g2};
  for (int step = 1; step <= 2; ++step) {
    opt.step(lr, {at::tensor({grads[step - 1][0], grads[step - 1][1]}, at::kDouble)});
    for (int i = 0; i < 2; ++i) {
      const double g = grads[step - 1][i];
      w[i] *= 1 - lr * 0.1;
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.99 * v[i] + 0.01 * g * g;
      const double mhat = m[i] / (1 - std::pow(0.9, step)), vhat = v[i] / (1 - std::pow(0.99, step));
      w[i] -= lr * mhat / (std::sqrt(vhat) + 1e-8);
      EXPECT_NEAR(p[i].item<double>(), w[i], 1e-12) << "step " << step << " element " << i;
    }
  }
  EXPECT_EQ(opt.steps(), 2);
  EXPECT_EQ(opt.state().size(), 2u);
}

TEST(AdamW, StateRoundTripsAndMismatchesAreErrors) {
  at::Tensor p = at::ones({3});
  AdamW a({{"w", p}}, {});
  a.step(0.1, {at::full({3}, 0.5)});
  AdamW b({{"w", p.clone()}}, {});
  b.load_state(a.state(), a.steps(), "ckpt");
  EXPECT_EQ(b.steps(), 1);
  EXPECT_TRUE(at::equal(b.state()[0].second, a.state()[0].second));
  AdamW c({{"other", at::ones({3})}}, {});
  EXPECT_THROW(c.load_state(a.state(), 1, "ckpt"), Error);
}

}  // namespace
}  // namespace omnitune
