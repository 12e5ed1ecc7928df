#include "omnitune/core/log.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {

TEST(Log, LevelsAndRankPrefix) {
  testing::internal::CaptureStdout();
  set_log_level(LogLevel::kInfo);
  log_debug("hidden");
  log_info("plain");
  set_log_rank(3);
  log_warn("ranked");
  set_log_rank(-1);
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(out.find("hidden"), std::string::npos) << out;
  EXPECT_NE(out.find("] [info] plain\n"), std::string::npos) << out;
  EXPECT_NE(out.find("] [rank 3] [warning] ranked\n"), std::string::npos) << out;
  EXPECT_EQ(test::error_of([] { parse_log_level("verbose"); }),
            "--log-level: unknown log level 'verbose'; valid: debug, info, warn, error");
  EXPECT_EQ(parse_log_level("warn"), LogLevel::kWarn);
}

}  // namespace omnitune
