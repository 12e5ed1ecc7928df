// Each tower of the tiny thinker with recompute and with offload equals the plain tower bit for bit:
// outputs, input gradients and every parameter gradient. The decoder runs with router logits and the aux loss.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>

#include "omnitune/model/hf_checkpoint.h"
#include "tiny_thinker.h"

namespace omnitune {

namespace {

using test::tiny_thinker;

const ActivationMemory kModes[] = {{false, false}, {true, false}, {true, true}};

// The loss's value, its gradients (listed tensors first, then every parameter of `module`; zeros where none).
std::vector<at::Tensor> run(torch::nn::Module& module, const std::vector<at::Tensor>& inputs,
                            const std::function<at::Tensor()>& loss_fn) {
  module.zero_grad();
  for (at::Tensor t : inputs) t.mutable_grad() = at::Tensor();
  at::Tensor loss = loss_fn();
  loss.backward();
  std::vector<at::Tensor> out = {loss.detach()};
  for (const at::Tensor& t : inputs) out.push_back(t.grad().clone());
  for (const at::Tensor& p : module.parameters())
    out.push_back(p.grad().defined() ? p.grad().clone() : at::zeros_like(p));
  return out;
}

void expect_same(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << what << ": tensor " << i;
}

}  // namespace

TEST(RecomputeTowers, TextDecoderWithRouterAuxLoss) {
  Thinker thinker = tiny_thinker();
  TextModelImpl& model = *thinker->model;
  const TextConfig& c = model.config;
  at::manual_seed(3);
  at::Tensor embeds = at::randn({2, 9, c.hidden_size}).requires_grad_(true);  // [B, S, H]
  at::Tensor mask = at::ones({2, 9}, at::kLong);
  mask.index_put_({1, at::indexing::Slice(7)}, 0);                         // right padding
  at::Tensor positions = at::arange(9).view({1, 1, 9}).expand({3, 2, 9});  // [3, B, S]
  at::Tensor visual = at::zeros({2, 9}, at::kBool);
  visual.index_put_({0, at::indexing::Slice(2, 5)}, true);  // 3 visual positions
  std::vector<at::Tensor> deepstack;
  for (int k = 0; k < 3; ++k) deepstack.push_back(at::randn({3, c.hidden_size}).requires_grad_(true));
  std::vector<at::Tensor> inputs = {embeds, deepstack[0], deepstack[1], deepstack[2]};

  std::vector<std::vector<at::Tensor>> results;
  for (const ActivationMemory& mode : kModes) {
    TextRunOptions options;
    options.activations = mode;
    reset_offload_stats();
    results.push_back(run(model, inputs, [&] {
      TextOutput out = model.forward(embeds, mask, positions, visual, deepstack, options, /*want_router_logits=*/true);
      EXPECT_EQ(static_cast<int64_t>(out.router_logits.size()), c.num_hidden_layers);
      at::Tensor aux = router_aux_loss(out.router_logits, c.num_experts, c.num_experts_per_tok, mask);
      return out.hidden.pow(2).mean() + 0.5 * aux;
    }));
    if (mode.offload) {
      EXPECT_EQ(offload_stats().offloaded, c.num_hidden_layers - 1);
    }
  }
  expect_same(results[1], results[0], "recompute");
  expect_same(results[2], results[0], "offload");
}

TEST(RecomputeTowers, VisionEncoder) {
  Thinker thinker = tiny_thinker();
  VisionEncoderImpl& visual = *thinker->visual;
  at::manual_seed(4);
  at::Tensor grid = at::tensor({1, 4, 4, 2, 2, 4}, at::kLong).view({2, 3});
  at::Tensor pixels = at::randn({32, visual.config().patch_dim()});
  std::vector<std::vector<at::Tensor>> results;
  for (const ActivationMemory& mode : kModes) {
    results.push_back(run(visual, {}, [&] {
      VisionOutput out = visual.forward(pixels, grid, mode);
      at::Tensor loss = out.tokens.pow(2).sum();
      for (const at::Tensor& d : out.deepstack) loss = loss + d.pow(2).sum();
      return loss;
    }));
  }
  expect_same(results[1], results[0], "recompute");
  expect_same(results[2], results[0], "offload");
}

TEST(RecomputeTowers, AudioEncoder) {
  Thinker thinker = tiny_thinker();
  AudioEncoderImpl& audio = *thinker->audio_tower;
  at::manual_seed(5);
  at::Tensor features = at::randn({2, audio.config().num_mel_bins, 230});
  at::Tensor lens = at::tensor({230, 157}, at::kLong);
  std::vector<std::vector<at::Tensor>> results;
  for (const ActivationMemory& mode : kModes)
    results.push_back(run(audio, {}, [&] { return audio.forward(features, lens, mode).pow(2).sum(); }));
  expect_same(results[1], results[0], "recompute");
  expect_same(results[2], results[0], "offload");
}

}  // namespace omnitune
