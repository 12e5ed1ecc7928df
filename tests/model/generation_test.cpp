#include "omnitune/model/generation.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

#include "model/tiny_thinker.h"
#include "omnitune/core/error.h"
#include "omnitune/model/sampling.h"

namespace omnitune {

// Decoding token by token with the cache gives the logits the whole sequence gives in one forward.
TEST(Generation, CachedDecodingEqualsTheFullForward) {
  at::NoGradGuard no_grad;
  Thinker thinker = test::tiny_thinker();
  thinker->eval();
  at::manual_seed(3);
  at::Tensor ids = at::randint(0, 151000, {1, 12}, at::kLong);
  ThinkerInputs whole;
  whole.input_ids = ids;
  whole.attention_mask = at::ones_like(ids);
  at::Tensor full = thinker->forward(whole).logits[0];  // [12, V]

  Generator generator(*thinker);
  ThinkerInputs prompt;
  prompt.input_ids = ids.slice(1, 0, 7);
  std::vector<at::Tensor> steps = {generator.prefill(prompt)};
  for (int64_t t = 7; t < 12; ++t) steps.push_back(generator.next(ids[0][t].item<int64_t>()));
  EXPECT_EQ(generator.length(), 12);
  for (int64_t i = 0; i < 6; ++i) EXPECT_TRUE(at::allclose(steps[i], full[6 + i], 1e-5, 1e-6)) << "position " << 6 + i;
}

TEST(Generation, RejectsABatchOrPadding) {
  Thinker thinker = test::tiny_thinker();
  Generator generator(*thinker);
  ThinkerInputs two;
  two.input_ids = at::zeros({2, 3}, at::kLong);
  EXPECT_THROW(generator.prefill(two), Error);
  ThinkerInputs padded;
  padded.input_ids = at::zeros({1, 3}, at::kLong);
  padded.attention_mask = at::tensor({1, 1, 0}, at::kLong).view({1, 3});
  EXPECT_THROW(generator.prefill(padded), Error);
}

TEST(Sampling, GreedyTakesTheArgmax) {
  TokenSampler greedy(SamplingOptions{});
  EXPECT_EQ(greedy.pick(at::tensor({0.1f, 2.0f, -1.0f, 1.9f})), 1);
}

TEST(Sampling, TopKAndTopPKeepOnlyTheirTokens) {
  at::Tensor logits = at::log(at::tensor({0.05f, 0.5f, 0.3f, 0.1f, 0.05f}));
  TokenSampler top_k(SamplingOptions{1.0, 2, 1.0, 7});
  TokenSampler top_p(SamplingOptions{1.0, 0, 0.7, 7});  // 0.5 + 0.3 reach 0.7: tokens 1 and 2
  std::set<int64_t> seen_k, seen_p;
  for (int i = 0; i < 300; ++i) seen_k.insert(top_k.pick(logits)), seen_p.insert(top_p.pick(logits));
  EXPECT_EQ(seen_k, (std::set<int64_t>{1, 2}));
  EXPECT_EQ(seen_p, (std::set<int64_t>{1, 2}));
}

TEST(Sampling, TheSeedDecides) {
  at::Tensor logits = at::zeros({1000});
  auto draws = [&](uint64_t seed) {
    TokenSampler sampler(SamplingOptions{0.8, 0, 1.0, seed});
    std::vector<int64_t> out;
    for (int i = 0; i < 20; ++i) out.push_back(sampler.pick(logits));
    return out;
  };
  EXPECT_EQ(draws(1), draws(1));
  EXPECT_NE(draws(1), draws(2));
}

TEST(Sampling, RejectsBadSettings) {
  EXPECT_THROW(TokenSampler(SamplingOptions{-1, 0, 1, 0}), Error);
  EXPECT_THROW(TokenSampler(SamplingOptions{1, -1, 1, 0}), Error);
  EXPECT_THROW(TokenSampler(SamplingOptions{1, 0, 0, 0}), Error);
  EXPECT_THROW(TokenSampler(SamplingOptions{1, 0, 1.5, 0}), Error);
}

}  // namespace omnitune
