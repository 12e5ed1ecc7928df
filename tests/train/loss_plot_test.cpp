#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "omnitune/train/loss_plot.h"
#include "test_util.h"

namespace omnitune {
namespace {

// Checks what an XML parser would: balanced, properly nested tags, quoted attributes, and no bare
// '<' or '&' in text or attribute values. Returns "" when well-formed, else what is wrong.
std::string xml_problem(const std::string& doc) {
  std::vector<std::string> open;
  static const std::regex entity("^&(amp|lt|gt|quot|apos|#[0-9]+);");
  static const std::regex tag(R"(^<(/?)([A-Za-z][\w:-]*)((\s+[\w:-]+="[^"<]*")*)\s*(/?)>)");
  bool root_seen = false;
  for (size_t i = 0; i < doc.size();) {
    if (doc.compare(i, 2, "<?") == 0) {
      size_t end = doc.find("?>", i);
      if (end == std::string::npos || i != 0) return "bad XML declaration";
      i = end + 2;
      continue;
    }
    if (doc[i] == '&') {
      if (!std::regex_search(doc.begin() + static_cast<long>(i), doc.end(), entity))
        return "bare & at " + std::to_string(i);
    }
    if (doc[i] != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(doc[i])))
        return "text outside the root at " + std::to_string(i);
      ++i;
      continue;
    }
    std::smatch m;
    std::string rest = doc.substr(i, 4096);
    if (!std::regex_search(rest, m, tag)) return "malformed tag at " + std::to_string(i) + ": " + rest.substr(0, 40);
    const std::string attributes = m[3].str();
    for (size_t a = attributes.find('&'); a != std::string::npos; a = attributes.find('&', a + 1))
      if (!std::regex_search(attributes.begin() + static_cast<long>(a), attributes.end(), entity))
        return "bare & in attributes at " + std::to_string(i);
    if (m[1].length() > 0) {
      if (open.empty() || open.back() != m[2].str()) return "unexpected </" + m[2].str() + ">";
      open.pop_back();
    } else if (m[5].length() == 0) {
      if (open.empty() && root_seen) return "second root element";
      open.push_back(m[2].str());
      root_seen = true;
    } else if (open.empty()) {
      return "self-closing root";
    }
    i += static_cast<size_t>(m[0].length());
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  return root_seen ? "" : "no root element";
}

using Vertices = std::vector<std::pair<double, double>>;

// The vertices of every <polyline>, one list per line.
std::vector<Vertices> polylines(const std::string& svg) {
  std::vector<Vertices> out;
  static const std::regex line("<polyline[^>]* points=\"([^\"]*)\"");
  for (std::sregex_iterator it(svg.begin(), svg.end(), line), end; it != end; ++it) {
    Vertices v;
    std::istringstream in((*it)[1].str());
    double x, y;
    char comma;
    while (in >> x >> comma >> y) v.emplace_back(x, y);
    out.push_back(v);
  }
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(LossPlot, OneVertexPerPointAlongTheAxes) {
  LossPoints points;
  for (int64_t s = 0; s <= 40; s += 2) points.emplace_back(s, 3.0 - s / 20.0);  // 3.0 down to 1.0
  const std::string svg = loss_curve_svg(points, "demo run");
  EXPECT_EQ(xml_problem(svg), "");
  auto lines = polylines(svg);
  ASSERT_EQ(lines.size(), 1u);
  ASSERT_EQ(lines[0].size(), points.size());
  for (size_t i = 1; i < lines[0].size(); ++i) {
    EXPECT_GT(lines[0][i].first, lines[0][i - 1].first);    // later steps further right
    EXPECT_GT(lines[0][i].second, lines[0][i - 1].second);  // lower loss further down the page
  }
  // The loss 2.0 point (step 20) lies on the height of the "2" tick label (drawn 4 px below its line).
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(svg, m, std::regex("<text x=\"[0-9.]+\" y=\"([0-9.]+)\" text-anchor=\"end\">2</text>")));
  EXPECT_NEAR(std::stod(m[1]) - 4, lines[0][10].second, 0.01);
  ASSERT_TRUE(
      std::regex_search(svg, m, std::regex("<text x=\"([0-9.]+)\" y=\"[0-9.]+\" text-anchor=\"middle\">20</text>")));
  EXPECT_NEAR(std::stod(m[1]), lines[0][10].first, 0.01);
  EXPECT_NE(svg.find(">demo run</text>"), std::string::npos);
}

TEST(LossPlot, NonFinitePointsAreSkippedMarkedAndCounted) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  LossPoints points = {{1, 2.0}, {2, nan}, {3, 1.5}, {4, inf}, {5, 1.2}, {6, -inf}};
  const std::string svg = loss_curve_svg(points, "loss <a & b>");
  EXPECT_EQ(xml_problem(svg), "");
  auto lines = polylines(svg);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].size(), 3u);
  EXPECT_NE(svg.find("loss &lt;a &amp; b&gt; (3 non-finite points skipped)"), std::string::npos);
  EXPECT_EQ(count(svg, "stroke=\"#d62728\""), 3u);  // one mark per skipped point
}

TEST(LossPlot, ResumedRunStartsANewLine) {
  LossPoints points;
  for (int64_t s = 1; s <= 10; ++s) points.emplace_back(s, 1.0 / s);
  for (int64_t s = 6; s <= 12; ++s) points.emplace_back(s, 1.1 / s);  // resumed from the step-5 checkpoint
  const std::string svg = loss_curve_svg(points, "resumed");
  EXPECT_EQ(xml_problem(svg), "");
  auto lines = polylines(svg);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].size(), 10u);
  EXPECT_EQ(lines[1].size(), 7u);
  EXPECT_LT(lines[1].front().first, lines[0].back().first);
}

TEST(LossPlot, SinglePointEmptyAndFile) {
  const std::string one = loss_curve_svg({{7, 0.5}}, "one");
  EXPECT_EQ(xml_problem(one), "");
  auto lines = polylines(one);
  ASSERT_EQ(lines.size(), 1u);
  ASSERT_EQ(lines[0].size(), 1u);
  EXPECT_EQ(count(one, "<circle"), 1u);
  auto [x, y] = lines[0][0];
  EXPECT_TRUE(x > 72 && x < 616 && y > 44 && y < 348) << x << "," << y;  // inside the plot area

  const std::string none = loss_curve_svg({}, "empty");
  EXPECT_EQ(xml_problem(none), "");
  EXPECT_TRUE(polylines(none).empty());
  EXPECT_NE(none.find("no finite points"), std::string::npos);

  test::TempDir dir;
  const LossPoints points = {{1, 3.0}, {2, 2.5}};
  write_loss_curve_svg(dir.file("loss.svg"), points, "file");
  std::ifstream in(dir.file("loss.svg"));
  std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(written, loss_curve_svg(points, "file"));
  EXPECT_NE(
      test::error_of([&] { write_loss_curve_svg(dir.file("missing/loss.svg"), points, "x"); }).find("missing/loss.svg"),
      std::string::npos);
}

TEST(LossPlot, AsciiChart) {
  LossPoints points;
  for (int64_t s = 0; s < 30; ++s) points.emplace_back(100 + s, 4.0 - 0.1 * s);
  points.emplace_back(130, std::nan(""));
  const std::string chart = ascii_loss_curve(points, 30, 8);
  std::vector<std::string> rows;
  std::istringstream in(chart);
  for (std::string row; std::getline(in, row);) rows.push_back(row);
  ASSERT_EQ(rows.size(), 8u + 3u) << chart;  // grid, axis, step labels, skipped count
  const size_t bar = rows[0].find(" |") + 2;
  EXPECT_EQ(rows[0].substr(0, bar), "  4 |");
  EXPECT_EQ(rows[7].substr(0, bar), "1.1 |");
  EXPECT_EQ(rows[0][bar], '*');       // the first (highest) point: top left
  EXPECT_EQ(rows[7][bar + 29], '*');  // the last: bottom right
  for (int r = 0; r < 8; ++r) EXPECT_EQ(rows[r].size(), bar + 30) << r;
  EXPECT_EQ(count(chart, "*"), 30u);  // 30 points in 30 columns: one star each
  EXPECT_EQ(rows[9].find("100"), bar);
  EXPECT_EQ(rows[9].rfind("129"), bar + 27);
  EXPECT_EQ(rows[10], "(1 non-finite point skipped)");
  EXPECT_NE(ascii_loss_curve({{3, 1.0}}).find('*'), std::string::npos);
  EXPECT_EQ(ascii_loss_curve({{3, std::nan("")}}), "(no finite loss points)\n(1 non-finite point skipped)\n");
  EXPECT_NE(test::error_of([] { ascii_loss_curve({{1, 1.0}}, 1, 5); }).find("1x5"), std::string::npos);
}

}  // namespace
}  // namespace omnitune
