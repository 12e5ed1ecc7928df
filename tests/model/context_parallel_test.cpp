// Ulysses context parallelism inside one process: threads stand for the ranks of a CP group and exchange
// through shared memory. Each rank runs its part of a tower or of the decoder and a loss over its share of
// the output; the outputs equal the whole run's, and the parameter (and input) gradients summed over the
// ranks equal the whole run's gradients — the sum the trainer forms over the job.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "omnitune/model/hf_checkpoint.h"
#include "tiny_thinker.h"

namespace omnitune {

namespace {

using test::tiny_thinker;

// The shared memory of a group of `size` threads.
class ThreadGroup {
 public:
  explicit ThreadGroup(int64_t size) : size_(size), slots_(size) {}
  int64_t size() const { return size_; }
  void put(int64_t rank, at::Tensor t) { slots_[rank] = std::move(t); }
  const at::Tensor& slot(int64_t rank) const { return slots_[rank]; }
  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    const int64_t generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0, ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
  }

 private:
  int64_t size_;
  std::vector<at::Tensor> slots_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int64_t arrived_ = 0, generation_ = 0;
};

class ThreadRank : public ContextParallelComm {
 public:
  ThreadRank(ThreadGroup& group, int64_t rank) : group_(group), rank_(rank) {}
  int64_t size() const override { return group_.size(); }
  int64_t rank() const override { return rank_; }
  at::Tensor all_to_all(const at::Tensor& in) override {
    group_.put(rank_, in);
    group_.barrier();
    std::vector<at::Tensor> got;
    for (int64_t r = 0; r < size(); ++r) got.push_back(group_.slot(r)[rank_].clone());
    group_.barrier();
    return at::stack(got);
  }
  void all_reduce_sum(at::Tensor& values) override {
    group_.put(rank_, values.clone());
    group_.barrier();
    at::Tensor sum = at::zeros_like(values);
    for (int64_t r = 0; r < size(); ++r) sum += group_.slot(r);
    group_.barrier();
    values.copy_(sum);
  }

 private:
  ThreadGroup& group_;
  int64_t rank_;
};

// fn(rank, comm, thinker) on `ranks` threads, each with its own copy of the tiny thinker; returns each rank's
// result (an exception on a thread fails the test).
std::vector<std::vector<at::Tensor>> on_ranks(
    int64_t ranks, const std::function<std::vector<at::Tensor>(ContextParallelComm&, ThinkerImpl&)>& fn) {
  ThreadGroup group(ranks);
  std::vector<Thinker> thinkers;
  for (int64_t r = 0; r < ranks; ++r) thinkers.push_back(tiny_thinker());
  std::vector<std::vector<at::Tensor>> results(ranks);
  std::vector<std::string> errors(ranks);
  std::vector<std::thread> threads;
  for (int64_t r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      ThreadRank comm(group, r);
      try {
        results[r] = fn(comm, *thinkers[r]);
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int64_t r = 0; r < ranks; ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
  return results;
}

// The gradient of every parameter of `module` (zeros where none).
std::vector<at::Tensor> grads_of(torch::nn::Module& module) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : module.parameters()) out.push_back(p.grad().defined() ? p.grad() : at::zeros_like(p));
  return out;
}

// Sum over the ranks of result[first..] equals whole[first..]; result[0..first) of every rank equals whole's.
void expect_parts_add_up(const std::vector<std::vector<at::Tensor>>& ranks, const std::vector<at::Tensor>& whole,
                         size_t first, const char* what) {
  for (const auto& r : ranks) ASSERT_EQ(r.size(), whole.size()) << what;
  for (size_t i = 0; i < whole.size(); ++i) {
    at::Tensor value = i < first ? ranks[0][i] : at::zeros_like(whole[i]);
    for (size_t r = 0; i >= first && r < ranks.size(); ++r) value = value + ranks[r][i];
    for (size_t r = 1; i < first && r < ranks.size(); ++r) EXPECT_TRUE(at::allclose(ranks[r][i], whole[i], 1e-5, 1e-6));
    EXPECT_TRUE(at::allclose(value, whole[i], 1e-4, 1e-6))
        << what << ": tensor " << i << " differs by " << (value - whole[i]).abs().max().item<double>();
  }
}

// out [M, C] -> the loss of rank `rank` of `ranks`: rows r with r % ranks == rank, weighted by a fixed pattern.
at::Tensor share_of(const at::Tensor& out, int64_t rank, int64_t ranks) {
  at::Tensor weight = at::sin(at::arange(out.numel(), out.options()).view(out.sizes()));
  at::Tensor mine = (at::arange(out.size(0)) % ranks == rank).to(out.dtype()).unsqueeze(1);
  return (out * weight * mine).sum();
}

}  // namespace

TEST(ContextParallel, VisionEncoderSplitsPatchesOverTwoRanks) {
  at::manual_seed(4);
  at::Tensor grid = at::tensor({1, 4, 4, 2, 2, 4, 1, 2, 2}, at::kLong).view({3, 3});  // 16 + 16 + 4 patches
  Thinker reference = tiny_thinker();
  at::Tensor pixels = at::randn({36, reference->visual->config().patch_dim()});
  auto loss_of = [&](const VisionOutput& out, int64_t rank, int64_t ranks) {
    at::Tensor loss = share_of(out.tokens, rank, ranks);
    for (const at::Tensor& d : out.deepstack) loss = loss + share_of(d, rank, ranks);
    return loss;
  };
  VisionOutput whole_out = reference->visual->forward(pixels, grid);
  loss_of(whole_out, 0, 1).backward();
  std::vector<at::Tensor> whole = {whole_out.tokens.detach(), whole_out.deepstack[2].detach()};
  for (const at::Tensor& g : grads_of(*reference->visual)) whole.push_back(g);

  auto parts = on_ranks(2, [&](ContextParallelComm& comm, ThinkerImpl& thinker) {
    VisionOutput out = thinker.visual->forward(pixels, grid, {}, &comm);
    loss_of(out, comm.rank(), comm.size()).backward();
    std::vector<at::Tensor> got = {out.tokens.detach(), out.deepstack[2].detach()};
    for (const at::Tensor& g : grads_of(*thinker.visual)) got.push_back(g);
    return got;
  });
  expect_parts_add_up(parts, whole, 2, "vision");
}

TEST(ContextParallel, AudioEncoderSplitsTokensOverTwoRanks) {
  at::manual_seed(5);
  Thinker reference = tiny_thinker();
  at::Tensor features = at::randn({2, reference->audio_tower->config().num_mel_bins, 230});
  at::Tensor lens = at::tensor({230, 157}, at::kLong);
  at::Tensor whole_out = reference->audio_tower->forward(features, lens);
  share_of(whole_out, 0, 1).backward();
  std::vector<at::Tensor> whole = {whole_out.detach()};
  for (const at::Tensor& g : grads_of(*reference->audio_tower)) whole.push_back(g);

  auto parts = on_ranks(2, [&](ContextParallelComm& comm, ThinkerImpl& thinker) {
    at::Tensor out = thinker.audio_tower->forward(features, lens, {}, &comm);
    share_of(out, comm.rank(), comm.size()).backward();
    std::vector<at::Tensor> got = {out.detach()};
    for (const at::Tensor& g : grads_of(*thinker.audio_tower)) got.push_back(g);
    return got;
  });
  expect_parts_add_up(parts, whole, 1, "audio");
}

// 4 ranks: more than the tiny decoder's 2 key/value heads (each repeated on 2 ranks); 9 tokens padded to 12.
TEST(ContextParallel, DecoderSplitsTheSequenceOverFourRanksWithRouterAuxLoss) {
  at::manual_seed(3);
  Thinker reference = tiny_thinker();
  const TextConfig& c = reference->model->config;
  TextInputs full;
  full.embeds = at::randn({2, 9, c.hidden_size});
  full.attention_mask = at::ones({2, 9}, at::kLong);
  full.attention_mask.index_put_({1, at::indexing::Slice(7)}, 0);  // right padding
  full.token_mask = full.attention_mask;
  full.position_ids = at::arange(9).view({1, 1, 9}).expand({3, 2, 9});
  full.visual_mask = at::zeros({2, 9}, at::kBool);
  full.visual_mask.index_put_({0, at::indexing::Slice(2, 5)}, true);
  full.visual_mask.index_put_({1, at::indexing::Slice(1, 3)}, true);
  for (int k = 0; k < 3; ++k) full.deepstack.push_back(at::randn({5, c.hidden_size}));
  full.targets = at::zeros({2, 9}, at::kLong);  // only the padding's fill matters here
  auto leaf_inputs = [&](TextInputs in) {
    in.embeds = in.embeds.clone().requires_grad_(true);
    for (auto& d : in.deepstack) d = d.clone().requires_grad_(true);
    return in;
  };
  auto run = [&](ThinkerImpl& thinker, const TextInputs& in, ContextParallelComm* comm) {
    TextInputs leaves = leaf_inputs(in);
    TextInputs used = comm ? local_text_inputs(leaves, SequenceSplit(9, comm->size(), comm->rank())) : leaves;
    TextRunOptions options;
    options.context_parallel = comm;
    TextOutput out = thinker.model->forward(used.embeds, used.attention_mask, used.position_ids, used.visual_mask,
                                            used.deepstack, options, true);
    // The pattern is indexed by the whole sequence's positions, so every rank weighs its tokens as one process.
    at::Tensor pattern = at::cos(at::arange(2 * 9 * c.hidden_size, out.hidden.options()).view({2, 9, c.hidden_size}));
    if (comm) pattern = SequenceSplit(9, comm->size(), comm->rank()).local(pattern);
    at::Tensor aux = router_aux_loss(out.router_logits, c.num_experts, c.num_experts_per_tok, used.token_mask, comm);
    ((out.hidden * pattern * used.token_mask.unsqueeze(-1)).sum() + 0.5 * aux).backward();
    std::vector<at::Tensor> got = {aux.detach(), leaves.embeds.grad()};
    for (const auto& d : leaves.deepstack) got.push_back(d.grad());
    for (const at::Tensor& g : grads_of(*thinker.model)) got.push_back(g);
    return got;
  };
  std::vector<at::Tensor> whole = run(*reference, full, nullptr);
  auto parts = on_ranks(4, [&](ContextParallelComm& comm, ThinkerImpl& thinker) { return run(thinker, full, &comm); });
  expect_parts_add_up(parts, whole, 0, "decoder");
}

}  // namespace omnitune
