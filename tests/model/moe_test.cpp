#include "omnitune/model/moe.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace omnitune {

namespace {
SparseMoe make_moe(bool norm) {
  at::manual_seed(0);
  SparseMoe moe(16, 8, 6, 2, norm);
  at::NoGradGuard g;
  for (auto& p : moe->parameters()) p.normal_(0, 0.3);
  return moe;
}
}  // namespace

TEST(Moe, GroupedAndLoopAgree) {
  for (bool norm : {true, false}) {
    SparseMoe moe = make_moe(norm);
    at::Tensor x = at::randn({37, 16});
    at::Tensor a = moe->forward(x, MoeImpl::kGrouped), b = moe->forward(x, MoeImpl::kLoop);
    EXPECT_TRUE(at::allclose(a, b, 1e-6, 1e-6));
    auto grads = [&](MoeImpl impl) {
      moe->zero_grad();
      moe->forward(x, impl).pow(2).sum().backward();
      std::vector<at::Tensor> g;
      for (auto& p : moe->parameters()) g.push_back(p.grad().clone());
      return g;
    };
    auto ga = grads(MoeImpl::kGrouped), gb = grads(MoeImpl::kLoop);
    for (size_t i = 0; i < ga.size(); ++i) EXPECT_TRUE(at::allclose(ga[i], gb[i], 1e-5, 1e-6)) << i;
  }
}

TEST(Moe, MatchesADenseComputation) {
  SparseMoe moe = make_moe(true);
  at::Tensor x = at::randn({5, 16});
  at::Tensor probs = at::softmax(at::linear(x, moe->gate->weight), -1);
  auto [w, idx] = at::topk(probs, 2, -1);
  w = w / w.sum(-1, true);
  at::Tensor expected = at::zeros_like(x);
  for (int64_t t = 0; t < 5; ++t)
    for (int64_t k = 0; k < 2; ++k) {
      int64_t e = idx[t][k].item<int64_t>();
      at::Tensor h = at::matmul(x[t], moe->experts->gate_up_proj[e]);
      at::Tensor y = at::matmul(at::silu(h.slice(0, 0, 8)) * h.slice(0, 8), moe->experts->down_proj[e]);
      expected[t] += w[t][k] * y;
    }
  EXPECT_TRUE(at::allclose(moe->forward(x, MoeImpl::kGrouped), expected, 1e-5, 1e-6));
}

TEST(Moe, ExpertsWithoutTokensGetZeroGradients) {
  SparseMoe moe = make_moe(true);
  at::Tensor x = at::randn({1, 16});  // one token reaches 2 of 6 experts
  moe->forward(x, MoeImpl::kGrouped).sum().backward();
  at::Tensor g = moe->experts->gate_up_proj.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_EQ(g.sizes(), moe->experts->gate_up_proj.sizes());
  int64_t touched = 0;
  for (int64_t e = 0; e < 6; ++e) touched += g[e].abs().sum().item<float>() > 0;
  EXPECT_EQ(touched, 2);
}

}  // namespace omnitune
