// The seed's cutoff_len rule on tokenized turns, against LLaMA-Factory's infer_seqlen and its
// supervised-preprocessing loop written out by hand for each case.
#include "omnitune/data/token_budget.h"

#include <gtest/gtest.h>

#include <numeric>

#include "omnitune/model/thinker_inputs.h"
#include "test_util.h"

namespace omnitune {

namespace {

constexpr int64_t kMedia = 900;  // stands for any media token in these tests
bool is_media(int64_t id) { return id >= kMedia; }

std::vector<int64_t> run(int64_t from, int64_t n) {  // from, from+1, ...
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), from);
  return v;
}

BasicParameters basic(int64_t cutoff, bool mask_history = false, bool train_on_prompt = false) {
  BasicParameters b;
  b.cutoff_len = cutoff;
  b.mask_history = mask_history;
  b.train_on_prompt = train_on_prompt;
  return b;
}

const std::vector<int64_t> kNone = {};
std::vector<int64_t> ignored(size_t n) { return std::vector<int64_t>(n, kIgnoreIndex); }
std::vector<int64_t> join(std::initializer_list<std::vector<int64_t>> parts) {
  std::vector<int64_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

TEST(TokenBudget, InferSeqlenFollowsTheSeed) {
  // target short (2 * target < cutoff): the target keeps everything, the source gets the rest.
  EXPECT_EQ(infer_seqlen(100, 10, 50), std::make_pair(int64_t{40}, int64_t{10}));
  // source short: the target gets cutoff - source.
  EXPECT_EQ(infer_seqlen(10, 100, 50), std::make_pair(int64_t{10}, int64_t{40}));
  // both long: split in proportion, int(50 * 60 / 100) = 30 for the target.
  EXPECT_EQ(infer_seqlen(40, 60, 50), std::make_pair(int64_t{20}, int64_t{30}));
  EXPECT_EQ(infer_seqlen(3, 4, 50), std::make_pair(int64_t{3}, int64_t{4}));  // fits
}

TEST(TokenBudget, LabelsCoverTheResponsesOnly) {
  BudgetedTokens t =
      apply_token_budget({{run(1, 3), run(10, 2)}, {run(20, 2), run(30, 2)}}, basic(100), is_media, "row");
  EXPECT_EQ(t.input_ids, join({run(1, 3), run(10, 2), run(20, 2), run(30, 2)}));
  EXPECT_EQ(t.labels, join({ignored(3), run(10, 2), ignored(2), run(30, 2)}));
  EXPECT_EQ(t.cut_tokens, 0);
  t = apply_token_budget({{join({run(1, 2), {kMedia}}), run(10, 2)}}, basic(100, false, true), is_media, "row");
  EXPECT_EQ(t.labels, join({run(1, 2), ignored(1), run(10, 2)}));  // train_on_prompt, but never a media token
}

TEST(TokenBudget, MaskHistoryTrainsTheLastTurnAndKeepsItFirst) {
  // Reversed: the last turn is budgeted first and alone keeps its labels.
  BudgetedTokens t =
      apply_token_budget({{run(1, 2), run(10, 2)}, {run(20, 2), run(30, 2)}}, basic(100, true), is_media, "row");
  EXPECT_EQ(t.input_ids, join({run(1, 2), run(10, 2), run(20, 2), run(30, 2)}));
  EXPECT_EQ(t.labels, join({ignored(2), ignored(2), ignored(2), run(30, 2)}));
  // With a budget of 6 the last turn takes 4 and the first gets infer_seqlen(2, 2, 2) = (1, 1).
  t = apply_token_budget({{run(1, 2), run(10, 2)}, {run(20, 2), run(30, 2)}}, basic(6, true), is_media, "row");
  EXPECT_EQ(t.input_ids, join({{1}, {10}, run(20, 2), run(30, 2)}));
  EXPECT_EQ(t.cut_tokens, 2);
}

TEST(TokenBudget, TextIsCutAndCountedMediaNever) {
  // 40 + 60 under 50: the prompt keeps 20, the response 30; 50 text tokens dropped.
  BudgetedTokens t = apply_token_budget({{run(1, 40), run(100, 60)}}, basic(50), is_media, "row");
  EXPECT_EQ(t.input_ids, join({run(1, 20), run(100, 30)}));
  EXPECT_EQ(t.cut_tokens, 50);
  // The turns after the budget is spent are dropped (and counted).
  t = apply_token_budget({{run(1, 4), run(10, 4)}, {run(20, 3), run(30, 3)}}, basic(8), is_media, "row");
  EXPECT_EQ(t.input_ids, join({run(1, 4), run(10, 4)}));
  EXPECT_EQ(t.cut_tokens, 6);
  // A cut through a media block, in the cut part of a turn or in a dropped turn, is an OverlongError.
  const std::vector<int64_t> with_media = join({run(1, 30), {kMedia, kMedia + 1}, run(40, 10)});
  EXPECT_THROW(apply_token_budget({{with_media, run(100, 60)}}, basic(50), is_media, "row"), OverlongError);
  EXPECT_THROW(apply_token_budget({{run(1, 4), run(10, 4)}, {{kMedia}, run(30, 3)}}, basic(8), is_media, "row"),
               OverlongError);
  try {
    apply_token_budget({{with_media, run(100, 60)}}, basic(50), is_media, "data.jsonl row 7");
  } catch (const OverlongError& e) {
    EXPECT_NE(std::string(e.what()).find("data.jsonl row 7: the sample needs more than cutoff_len = 50"),
              std::string::npos);
  }
}

}  // namespace omnitune
