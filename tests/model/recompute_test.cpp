#include "omnitune/model/recompute.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "omnitune/core/error.h"
#include "omnitune/model/layers.h"

namespace omnitune {

namespace {

// A toy layer with the shapes of the real ones: hidden state, a tensor without gradient, an optional
// tensor, a second tensor with gradient; a non-tensor argument in the closure; a side output.
struct Toy {
  Linear linear{8, 8, true};
  Toy() {
    at::manual_seed(1);
    at::NoGradGuard no_grad;
    for (auto& p : linear->parameters()) p.normal_(0, 0.5);
  }
  // in: x [N, 8] (grad), scale [N, 1] (no grad), unused (undefined), bias [8] (grad) -> {y [N, 8], side [N, 1]}
  std::vector<at::Tensor> operator()(const std::vector<at::Tensor>& in, double k) const {
    EXPECT_FALSE(in[2].defined());
    at::Tensor y = at::gelu(linear.ptr()->forward(in[0])) * in[1] + in[3] * k;
    return {y, in[1] * 2};
  }
  LayerFunction fn(double k) const {
    return [this, k](const std::vector<at::Tensor>& in) { return (*this)(in, k); };
  }
};

struct Inputs {
  at::Tensor x = at::randn({5, 8}).requires_grad_(true);
  at::Tensor scale = at::randn({5, 1});
  at::Tensor bias = at::randn({8}).requires_grad_(true);
  std::vector<at::Tensor> list() const { return {x, scale, at::Tensor(), bias}; }
};

std::vector<at::Tensor> grads_of(const Toy& toy, const Inputs& in) {
  return {in.x.grad().clone(), in.bias.grad().clone(), toy.linear->weight.grad().clone(),
          toy.linear->bias.grad().clone()};
}

void clear(const Toy& toy, const Inputs& in) {
  for (at::Tensor t : {in.x, in.bias, toy.linear->weight, toy.linear->bias}) t.mutable_grad() = at::Tensor();
}

void expect_equal(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << "tensor " << i;
}

}  // namespace

TEST(Recompute, EqualsThePlainLayerBitForBit) {
  Toy toy;
  Inputs in;
  std::vector<at::Tensor> plain = toy(in.list(), 0.5);
  (plain[0].pow(2).sum() + plain[1].sum()).backward();
  std::vector<at::Tensor> expected = grads_of(toy, in);
  clear(toy, in);

  std::vector<at::Tensor> out = recompute(toy.fn(0.5), in.list(), toy.linear->parameters());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(at::equal(out[0], plain[0]));
  EXPECT_TRUE(at::equal(out[1], plain[1]));
  (out[0].pow(2).sum() + out[1].sum()).backward();  // the side output has no gradient path: skipped
  expect_equal(grads_of(toy, in), expected);
}

TEST(Recompute, UnusedOutputsGetNoGradient) {
  Toy toy;
  Inputs in;
  toy(in.list(), 2.0)[0].sum().backward();
  std::vector<at::Tensor> expected = grads_of(toy, in);
  clear(toy, in);
  recompute(toy.fn(2.0), in.list(), toy.linear->parameters())[0].sum().backward();
  expect_equal(grads_of(toy, in), expected);
}

TEST(Recompute, ParametersGetGradientsWhenNoInputNeedsOne) {
  Toy toy;
  Inputs in;
  in.x.requires_grad_(false);
  in.bias.requires_grad_(false);
  toy(in.list(), 1.0)[0].sum().backward();
  at::Tensor expected = toy.linear->weight.grad().clone();
  toy.linear->weight.mutable_grad() = at::Tensor();
  toy.linear->bias.mutable_grad() = at::Tensor();
  std::vector<at::Tensor> out = recompute(toy.fn(1.0), in.list(), toy.linear->parameters());
  ASSERT_TRUE(out[0].requires_grad());
  out[0].sum().backward();
  EXPECT_TRUE(at::equal(toy.linear->weight.grad(), expected));
  EXPECT_FALSE(in.x.grad().defined());
}

TEST(Recompute, WithoutGradModeIsAPlainCall) {
  Toy toy;
  Inputs in;
  auto offload = std::make_shared<ActivationOffload>(2);
  reset_offload_stats();
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> out = recompute(toy.fn(1.0), in.list(), toy.linear->parameters(), offload);
  EXPECT_FALSE(out[0].requires_grad());
  EXPECT_TRUE(at::equal(out[0], toy(in.list(), 1.0)[0]));
  EXPECT_EQ(offload_stats().offloaded, 0);
}

TEST(Recompute, RandomNumbersInTheLayerAreAnError) {
  Inputs in;
  LayerFunction noisy = [](const std::vector<at::Tensor>& x) {
    return std::vector<at::Tensor>{x[0] * at::rand_like(x[0])};
  };
  EXPECT_THROW(recompute(noisy, {in.x}, {}), Error);
}

TEST(Recompute, StacksWithOffloadMatchAndPrefetchOneLayerAhead) {
  const int64_t layers = 4;
  std::vector<Toy> toys(layers);
  Inputs in;
  auto run = [&](bool checkpointed, bool offloaded) {
    for (auto& toy : toys) clear(toy, in);
    auto offload = offloaded ? std::make_shared<ActivationOffload>(layers) : nullptr;
    at::Tensor h = in.x;
    for (int64_t i = 0; i < layers; ++i) {
      std::vector<at::Tensor> args = {h, in.scale, at::Tensor(), in.bias};
      h = checkpointed ? recompute(toys[i].fn(0.1 * i), args, toys[i].linear->parameters(), offload)[0]
                       : toys[i](args, 0.1 * i)[0];
    }
    h.pow(2).sum().backward();
    std::vector<at::Tensor> grads = {in.x.grad().clone(), in.bias.grad().clone()};
    for (auto& toy : toys) grads.push_back(toy.linear->weight.grad().clone());
    return grads;
  };
  std::vector<at::Tensor> plain = run(false, false);
  expect_equal(run(true, false), plain);
  reset_offload_stats();
  expect_equal(run(true, true), plain);
  OffloadStats stats = offload_stats();
  EXPECT_EQ(stats.offloaded, layers - 1);  // the last layer's input stays
  EXPECT_EQ(stats.offloaded_bytes, (layers - 1) * in.x.nbytes());
  EXPECT_EQ(stats.prefetched, layers - 1);  // each fetched by the backward of the layer after it
  EXPECT_EQ(stats.on_demand, 0);
}

TEST(Recompute, SecondBackwardWithRetainedGraph) {
  Toy toy;
  Inputs in;
  auto offload = std::make_shared<ActivationOffload>(2);
  at::Tensor h = recompute(toy.fn(1.0), in.list(), toy.linear->parameters(), offload)[0];
  h = recompute(toy.fn(1.0), {h, in.scale, at::Tensor(), in.bias}, toy.linear->parameters(), offload)[0];
  at::Tensor loss = h.pow(2).sum();
  loss.backward({}, /*retain_graph=*/true);
  at::Tensor once = in.x.grad().clone();
  loss.backward();
  EXPECT_TRUE(at::allclose(in.x.grad(), 2 * once, 1e-6, 0));
}

TEST(Recompute, OffloadDiesWithTheGraph) {  // no reference cycle through the saved layer inputs
  Toy toy;
  Inputs in;
  for (bool backward : {false, true}) {
    std::weak_ptr<ActivationOffload> watch;
    {
      auto offload = std::make_shared<ActivationOffload>(3);
      watch = offload;
      at::Tensor h = in.x;
      for (int i = 0; i < 3; ++i)
        h = recompute(toy.fn(1.0), {h, in.scale, at::Tensor(), in.bias}, toy.linear->parameters(), offload)[0];
      offload.reset();
      EXPECT_FALSE(watch.expired());  // the graph holds it
      if (backward) h.sum().backward();
    }
    EXPECT_TRUE(watch.expired()) << "backward " << backward;
  }
}

TEST(Recompute, OffloadedInputChangedInPlaceIsAnError) {
  Toy toy;
  Inputs in;
  auto offload = std::make_shared<ActivationOffload>(2);
  at::Tensor x = in.x * 1.0;  // a non-leaf that can be changed in place
  at::Tensor h = recompute(toy.fn(1.0), {x, in.scale, at::Tensor(), in.bias}, toy.linear->parameters(), offload)[0];
  h = recompute(toy.fn(1.0), {h, in.scale, at::Tensor(), in.bias}, toy.linear->parameters(), offload)[0];
  {
    at::NoGradGuard no_grad;
    x.add_(1);
  }
  EXPECT_THROW(h.sum().backward(), std::exception);
}

}  // namespace omnitune
