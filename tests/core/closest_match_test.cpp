#include "omnitune/core/closest_match.h"

#include <gtest/gtest.h>

namespace omnitune {

TEST(ClosestMatch, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("param_dtype", "param_dtyp"), 1u);
}

TEST(ClosestMatch, SuggestsOnlyPlausibleTypos) {
  std::vector<std::string> keys = {"param_dtype", "reduce_dtype", "reshard_after_forward"};
  EXPECT_EQ(closest_match("param_dtpye", keys), "param_dtype");
  EXPECT_EQ(closest_match("reshard_after_forwad", keys), "reshard_after_forward");
  EXPECT_EQ(closest_match("completely_different", keys), "");
  EXPECT_EQ(did_you_mean("reduce_dtyp", keys), " (did you mean 'reduce_dtype'?)");
  EXPECT_EQ(did_you_mean("zzz", keys), "");
}

}  // namespace omnitune
