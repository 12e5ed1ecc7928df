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
  EXPECT_EQ(opt.state().size(), 3u);  // exp_avg, exp_avg_sq, step
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

TEST(AdamW, AParameterWithoutGradientIsLeftAloneAndCountsItsOwnSteps) {
  // Two identical parameters; b gets no gradient in step 2 (as torch skips a parameter whose .grad is None):
  // no decay, no moment update, and its later bias correction uses its own step count.
  at::Tensor a = at::tensor({1.0, -2.0}, at::kDouble), b = a.clone();
  AdamW opt({{"a", a}, {"b", b}}, {.beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1});
  AdamW solo({{"b", b.clone()}}, {.beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1});
  const at::Tensor g1 = at::tensor({0.5, -1.0}, at::kDouble), g2 = at::tensor({-0.25, 2.0}, at::kDouble);
  opt.step(0.01, {g1, g1}, {1, 1});
  solo.step(0.01, {g1});
  const at::Tensor b_after_1 = b.clone();
  opt.step(0.02, {g2, at::zeros_like(g2)}, {1, 0});
  EXPECT_TRUE(at::equal(b, b_after_1));
  EXPECT_EQ(opt.param_steps(), (std::vector<int64_t>{2, 1}));
  opt.step(0.03, {g1, g2}, {1, 1});
  solo.step(0.03, {g2});  // b's second update, whatever step() call it came in
  EXPECT_TRUE(at::allclose(b, solo.params()[0].second, 0, 1e-15));
  EXPECT_EQ(opt.steps(), 3);
  EXPECT_EQ(opt.param_steps(), (std::vector<int64_t>{3, 2}));

  // The per-parameter counts survive a checkpoint; an older state without them gives every parameter `steps`.
  AdamW restored({{"a", a.clone()}, {"b", b.clone()}}, {});
  restored.load_state(opt.state(), opt.steps(), "ckpt");
  EXPECT_EQ(restored.param_steps(), (std::vector<int64_t>{3, 2}));
  NamedTensors old_format;
  for (const auto& [name, t] : opt.state())
    if (name.rfind("step.", 0) != 0) old_format.emplace_back(name, t);
  AdamW old({{"a", a.clone()}, {"b", b.clone()}}, {});
  old.load_state(old_format, 3, "ckpt");
  EXPECT_EQ(old.param_steps(), (std::vector<int64_t>{3, 3}));
  EXPECT_THROW(opt.step(0.01, {g1, g1}, {1}), Error);
}

}  // namespace
}  // namespace omnitune
