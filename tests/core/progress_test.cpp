#include "omnitune/core/progress.h"

#include <gtest/gtest.h>

namespace omnitune {

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(format_duration(9.4), "9s");
  EXPECT_EQ(format_duration(245), "4m05s");
  EXPECT_EQ(format_duration(7380), "2h03m");
}

TEST(Progress, StatusHasRateAndEta) {
  double now = 0;
  ProgressBar::Options o;
  o.tty = 0;
  o.clock = [&] { return now; };
  ProgressBar bar("steps", 40, o);
  now = 4;
  bar.advance(12);
  EXPECT_EQ(bar.status(), "12/40 (30%), 3.00 it/s, ETA 9s");
  now = 10;
  bar.advance(28);
  EXPECT_EQ(bar.status(), "40/40 (100%), 4.00 it/s, took 10s");
}

TEST(Progress, TerminalModeRedrawsOneLine) {
  double now = 0;
  std::vector<std::string> frames;
  ProgressBar::Options o;
  o.tty = 1;
  o.clock = [&] { return now; };
  o.write_tty = [&](const std::string& s) { frames.push_back(s); };
  {
    ProgressBar bar("load", 4, o);
    for (int i = 0; i < 4; ++i) {
      now += 1;
      bar.advance();
    }
  }  // the destructor draws the final frame
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].substr(0, 5), "\r\033[2K");
  EXPECT_NE(frames[1].find("load [###############...............] 2/4 (50%)"), std::string::npos) << frames[1];
  EXPECT_EQ(frames.back().back(), '\n');
  for (size_t i = 0; i + 1 < frames.size(); ++i) EXPECT_NE(frames[i].back(), '\n');
}

TEST(Progress, ClearErasesTheLineAndTheNextAdvanceRedraws) {
  double now = 0;
  std::vector<std::string> frames;
  ProgressBar::Options o;
  o.tty = 1;
  o.clock = [&] { return now; };
  o.write_tty = [&](const std::string& s) { frames.push_back(s); };
  ProgressBar bar("train", 10, o);
  now += 1;
  bar.advance();
  bar.clear();    // a log line goes here
  bar.advance();  // no time has passed: redrawn anyway
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[1], "\r\033[2K");
  EXPECT_NE(frames[2].find("train [######"), std::string::npos) << frames[2];
  bar.finish();
  bar.clear();  // after the final line: nothing to erase
  EXPECT_EQ(frames.size(), 4u);
}

TEST(Progress, LogModeWritesPeriodicLines) {
  double now = 0;
  ProgressBar::Options o;
  o.tty = 0;
  o.interval_s = 10;
  o.clock = [&] { return now; };
  o.write_tty = [](const std::string&) { ADD_FAILURE() << "log mode must not draw a bar"; };
  testing::internal::CaptureStdout();
  {
    ProgressBar bar("data", 100, o);
    for (int i = 0; i < 100; ++i) {
      now += 0.5;
      bar.advance();
    }
  }
  std::string out = testing::internal::GetCapturedStdout();
  size_t lines = std::count(out.begin(), out.end(), '\n');
  EXPECT_EQ(lines, 5u) << out;  // at 10, 20, 30, 40 s and the final line
  EXPECT_NE(out.find("[info] data: 20/100 (20%), 2.00 it/s, ETA 40s"), std::string::npos) << out;
}

}  // namespace omnitune
