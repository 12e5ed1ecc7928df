#include "omnitune/data/sampler.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {

TEST(Sampler, ResumeContinuesWithTheExactNextBatch) {
  SamplerOptions o{3, 0, 1, 7, true, true};
  Sampler straight(20, o);
  std::vector<std::vector<int64_t>> expected;
  for (int i = 0; i < 15; ++i) expected.push_back(straight.next());  // crosses two epoch boundaries (6 per epoch)
  Sampler first(20, o);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(first.next(), expected[i]);
  SamplerState saved = first.state();
  Sampler resumed(20, o);
  resumed.restore(saved);
  for (int i = 8; i < 15; ++i) EXPECT_EQ(resumed.next(), expected[i]) << i;
}

TEST(Sampler, RanksPartitionEachEpoch) {
  const int64_t n = 23, mbs = 2, dp = 2;
  std::vector<int64_t> seen;
  for (int64_t rank = 0; rank < dp; ++rank) {
    Sampler s(n, {mbs, rank, dp, 3, true, true});
    EXPECT_EQ(s.batches_per_epoch(), 5);
    for (int64_t b = 0; b < s.batches_per_epoch(); ++b)
      for (int64_t i : s.next()) seen.push_back(i);
  }
  std::set<int64_t> unique(seen.begin(), seen.end());
  EXPECT_EQ(seen.size(), 20u);    // 23 rows, drop_last: 20 used
  EXPECT_EQ(unique.size(), 20u);  // no row on two ranks
}

TEST(Sampler, EpochsReshuffleAndNoShuffleKeepsOrder) {
  Sampler s(6, {6, 0, 1, 1, true, true});
  auto a = s.next(), b = s.next();
  EXPECT_NE(a, b);
  std::sort(a.begin(), a.end());
  EXPECT_EQ(a, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  Sampler plain(5, {2, 0, 1, 1, false, false});
  EXPECT_EQ(plain.next(), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(plain.next(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(plain.next(), (std::vector<int64_t>{4, 0}));  // without drop_last the tail is completed
  EXPECT_EQ(permutation(10, 5, 0), permutation(10, 5, 0));
}

TEST(Sampler, BadSettingsAreErrors) {
  EXPECT_NE(test::error_of([] {
              Sampler s(3, {4, 0, 1, 1, true, true});
            }).find("fewer than one global micro-batch"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              Sampler s(3, {1, 2, 2, 1, true, true});
            }).find("invalid micro batch"),
            std::string::npos);
}

}  // namespace omnitune
