// The chunked lm_head + loss against the plain one (logits, then causal_lm_loss), fp32 (the loss
// accumulates in fp32 whatever the input dtype).
#include "omnitune/model/fused_lm_loss.h"
#include "omnitune/model/causal_lm_loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "omnitune/core/error.h"
#include "omnitune/model/thinker.h"

namespace omnitune {
namespace {

struct Case {
  at::Tensor hidden, weight, labels, label_weights;  // [B, S, H], [V, H], [B, S], [B, S] or undefined
};

Case make_case(bool weighted) {
  at::manual_seed(3);
  auto f32 = at::TensorOptions().dtype(at::kFloat);
  Case c;
  c.hidden = at::randn({2, 9, 16}, f32).requires_grad_(true);
  c.weight = (at::randn({37, 16}, f32) * 0.3).requires_grad_(true);
  c.labels = at::randint(37, {2, 9}, at::kLong);
  c.labels.index_put_({0, at::indexing::Slice(0, 4)}, -100);  // a prompt
  c.labels.index_put_({1, 8}, -100);
  if (weighted) c.label_weights = at::rand({2, 9}, f32);
  return c;
}

void expect_close(const at::Tensor& a, const at::Tensor& b, const char* what) {
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-6 * b.abs().max().item<double>()) << what;
}

TEST(FusedLmLoss, EqualsLogitsThenLossForEveryChunkSize) {
  for (bool weighted : {false, true}) {
    Case ref = make_case(weighted);
    at::Tensor expected = causal_lm_loss(at::linear(ref.hidden, ref.weight), ref.labels, ref.label_weights);
    (expected * 1.7).backward();
    for (int64_t chunk : {1, 4, 5, 100}) {
      Case c = make_case(weighted);
      at::Tensor loss = fused_causal_lm_loss(c.hidden, c.weight, c.labels, chunk, c.label_weights);
      (loss * 1.7).backward();  // the incoming gradient scales both gradients
      expect_close(loss.detach(), expected.detach(), "loss");
      expect_close(c.hidden.grad(), ref.hidden.grad(), "grad hidden");
      expect_close(c.weight.grad(), ref.weight.grad(), "grad weight");
    }
  }
}

TEST(FusedLmLoss, SecondBackwardIsAClearError) {
  Case c = make_case(false);
  at::Tensor loss = fused_causal_lm_loss(c.hidden, c.weight, c.labels, 4, {});
  loss.backward({}, /*retain_graph=*/true);
  try {
    loss.backward();
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("backpropagated twice"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace omnitune
