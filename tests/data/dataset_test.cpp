#include "omnitune/data/dataset.h"

#include <gtest/gtest.h>

#include "data_fixture.h"

namespace omnitune {

TEST(Dataset, MaxSamplesIsACap) {
  test::TempDir dir;
  test::write_text(dir.file("rows.jsonl"), test::text_rows(8));
  for (auto [max_samples, used] : {std::pair{3, 3}, std::pair{8, 8}, std::pair{1000, 8}}) {
    const std::string basic = R"(, "max_samples": )" + std::to_string(max_samples);
    DataConfig c = load_data_config(test::write_data_json(dir, dir.file("rows.jsonl"), basic));
    testing::internal::CaptureStdout();
    Dataset d(c);
    const std::string log = testing::internal::GetCapturedStdout();
    EXPECT_EQ(d.size(), used) << max_samples;
    EXPECT_NE(
        log.find("using " + std::to_string(used) + " of 8 rows (max_samples " + std::to_string(max_samples) + ")"),
        std::string::npos)
        << log;
    EXPECT_EQ(d.origin(used - 1).row, used - 1);
  }
  testing::internal::CaptureStdout();
  Dataset all(load_data_config(test::write_data_json(dir, dir.file("rows.jsonl"))));
  EXPECT_EQ(testing::internal::GetCapturedStdout().find("using"), std::string::npos);  // no cap, no line
  EXPECT_EQ(all.size(), 8);
}

}  // namespace omnitune
