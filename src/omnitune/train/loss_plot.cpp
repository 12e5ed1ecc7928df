#include "omnitune/train/loss_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "omnitune/core/error.h"
#include "omnitune/io/atomic_file.h"

namespace omnitune {

namespace {

constexpr double kWidth = 640, kHeight = 400;
constexpr double kLeft = 72, kRight = 24, kTop = 44, kBottom = 52;  // margins around the plot area

struct Span {
  double lo, hi;
};

// [lo, hi], widened when all values are equal so that they land in the middle.
Span widen(double lo, double hi) {
  if (lo < hi) return {lo, hi};
  const double pad = lo != 0 ? std::abs(lo) * 0.1 : 1.0;
  return {lo - pad, hi + pad};
}

// 1, 2 or 5 times a power of ten, close to range / 5.
double nice_step(double range) {
  const double raw = range / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * magnitude;
}

struct Axis {
  Span span;                  // the drawn range: widened to whole ticks
  std::vector<double> ticks;  // i * step for whole i
};

Axis make_axis(Span data, bool integer) {
  double step = nice_step(data.hi - data.lo);
  if (integer) step = std::max(1.0, std::round(step));
  const double first = std::floor(data.lo / step), last = std::ceil(data.hi / step);
  Axis axis{{first * step, last * step}, {}};
  for (double i = first; i <= last && axis.ticks.size() < 16; ++i) axis.ticks.push_back(i * step);
  return axis;
}

std::string number(double v, const char* format = "%.6g") {
  char text[40];
  std::snprintf(text, sizeof(text), format, v == 0 ? 0.0 : v);  // never "-0"
  return text;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

int64_t count_nonfinite(const LossPoints& points) {
  return std::count_if(points.begin(), points.end(), [](const auto& p) { return !std::isfinite(p.second); });
}

}  // namespace

std::string loss_curve_svg(const LossPoints& points, const std::string& title, const LossPoints& validation) {
  const int64_t nonfinite = count_nonfinite(points);
  std::string heading = title;
  if (nonfinite > 0) heading += cat(" (", nonfinite, " non-finite point", nonfinite == 1 ? "" : "s", " skipped)");

  bool any_finite = false;
  Span steps{0, 0}, losses{0, 0};
  LossPoints all = points;
  all.insert(all.end(), validation.begin(), validation.end());
  for (size_t i = 0; i < all.size(); ++i) {
    const auto [step, loss] = all[i];
    const double x = static_cast<double>(step);
    steps = i == 0 ? Span{x, x} : Span{std::min(steps.lo, x), std::max(steps.hi, x)};
    if (!std::isfinite(loss)) continue;
    losses = any_finite ? Span{std::min(losses.lo, loss), std::max(losses.hi, loss)} : Span{loss, loss};
    any_finite = true;
  }
  const Axis xa = make_axis(widen(steps.lo, steps.hi), true), ya = make_axis(widen(losses.lo, losses.hi), false);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - xa.span.lo) / (xa.span.hi - xa.span.lo) * plot_w; };
  auto py = [&](double y) { return kTop + (ya.span.hi - y) / (ya.span.hi - ya.span.lo) * plot_h; };
  auto f = [](double v) { return number(v, "%.2f"); };

  std::string svg =
      cat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", kWidth,
          "\" height=\"", kHeight, "\" viewBox=\"0 0 ", kWidth, " ", kHeight,
          "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
          "<text x=\"", f(kWidth / 2), "\" y=\"26\" text-anchor=\"middle\" font-size=\"15\">", xml_escape(heading),
          "</text>\n");
  svg += "<g stroke=\"#e0e0e0\">\n";  // grid
  for (double t : xa.ticks)
    svg +=
        cat("<line x1=\"", f(px(t)), "\" y1=\"", f(kTop), "\" x2=\"", f(px(t)), "\" y2=\"", f(kTop + plot_h), "\"/>\n");
  for (double t : ya.ticks)
    svg += cat("<line x1=\"", f(kLeft), "\" y1=\"", f(py(t)), "\" x2=\"", f(kLeft + plot_w), "\" y2=\"", f(py(t)),
               "\"/>\n");
  svg += "</g>\n<g fill=\"#333\">\n";  // tick labels
  for (double t : xa.ticks)
    svg += cat("<text x=\"", f(px(t)), "\" y=\"", f(kTop + plot_h + 18), "\" text-anchor=\"middle\">",
               number(t, "%.0f"), "</text>\n");
  for (double t : ya.ticks)
    svg += cat("<text x=\"", f(kLeft - 6), "\" y=\"", f(py(t) + 4), "\" text-anchor=\"end\">", number(t), "</text>\n");
  svg += cat("<text x=\"", f(kLeft + plot_w / 2), "\" y=\"", f(kHeight - 10), "\" text-anchor=\"middle\">step</text>\n",
             "<text x=\"16\" y=\"", f(kTop + plot_h / 2), "\" text-anchor=\"middle\" transform=\"rotate(-90 16 ",
             f(kTop + plot_h / 2), ")\">loss</text>\n</g>\n");
  svg += cat("<path d=\"M", f(kLeft), " ", f(kTop), " V", f(kTop + plot_h), " H", f(kLeft + plot_w),
             "\" fill=\"none\" stroke=\"#333\"/>\n");
  if (!any_finite)
    svg += cat("<text x=\"", f(kLeft + plot_w / 2), "\" y=\"", f(kTop + plot_h / 2),
               "\" text-anchor=\"middle\">no finite points</text>\n");

  // One polyline per run of increasing steps; a lone point (and every validation point) also gets a dot.
  auto draw = [&](const LossPoints& series, const char* color, bool dots) {
    std::vector<std::pair<double, double>> line;
    auto end_line = [&] {
      if (line.empty()) return;
      svg += cat("<polyline fill=\"none\" stroke=\"", color, "\" stroke-width=\"1.5\" points=\"");
      for (size_t i = 0; i < line.size(); ++i) svg += cat(i ? " " : "", f(line[i].first), ",", f(line[i].second));
      svg += "\"/>\n";
      for (const auto& [x, y] : line)
        if (dots || line.size() == 1)
          svg += cat("<circle cx=\"", f(x), "\" cy=\"", f(y), "\" r=\"3\" fill=\"", color, "\"/>\n");
      line.clear();
    };
    bool have_previous = false;
    int64_t previous = 0;
    for (const auto& [step, loss] : series) {
      if (!std::isfinite(loss)) {
        svg +=
            cat("<line x1=\"", f(px(static_cast<double>(step))), "\" y1=\"", f(kTop), "\" x2=\"",
                f(px(static_cast<double>(step))), "\" y2=\"", f(kTop + 10),
                "\" stroke=\"#d62728\" stroke-width=\"2\"><title>step ", step, ": ", number(loss), "</title></line>\n");
        continue;
      }
      if (have_previous && step <= previous) end_line();
      line.emplace_back(px(static_cast<double>(step)), py(loss));
      previous = step;
      have_previous = true;
    }
    end_line();
  };
  draw(points, "#1f77b4", false);
  if (!validation.empty()) {
    draw(validation, "#ff7f0e", true);
    svg += cat("<g font-size=\"11\"><text x=\"", f(kLeft + plot_w - 4), "\" y=\"", f(kTop + 14),
               "\" text-anchor=\"end\" fill=\"#1f77b4\">training</text><text x=\"", f(kLeft + plot_w - 4), "\" y=\"",
               f(kTop + 28), "\" text-anchor=\"end\" fill=\"#ff7f0e\">validation</text></g>\n");
  }
  return svg + "</svg>\n";
}

void write_loss_curve_svg(const std::string& path, const LossPoints& points, const std::string& title,
                          const LossPoints& validation) {
  write_file_atomic(path, loss_curve_svg(points, title, validation));
}

std::string ascii_loss_curve(const LossPoints& points, int width, int height) {
  if (width < 2 || height < 2)
    throw Error(cat("loss chart: width and height must be at least 2, got ", width, "x", height));
  const int64_t nonfinite = count_nonfinite(points);
  const std::string skipped =
      nonfinite > 0 ? cat("(", nonfinite, " non-finite point", nonfinite == 1 ? "" : "s", " skipped)\n") : "";
  LossPoints finite;
  for (const auto& p : points)
    if (std::isfinite(p.second)) finite.push_back(p);
  if (finite.empty()) return "(no finite loss points)\n" + skipped;

  auto [x_lo, x_hi] = std::minmax_element(finite.begin(), finite.end());
  auto [y_lo, y_hi] = std::minmax_element(finite.begin(), finite.end(),
                                          [](const auto& a, const auto& b) { return a.second < b.second; });
  const double x0 = static_cast<double>(x_lo->first), x1 = static_cast<double>(x_hi->first), y0 = y_lo->second,
               y1 = y_hi->second;
  std::vector<std::string> grid(height, std::string(width, ' '));
  for (const auto& [step, loss] : finite) {
    const long col = x1 > x0 ? std::lround((static_cast<double>(step) - x0) / (x1 - x0) * (width - 1)) : width / 2;
    const long row = y1 > y0 ? std::lround((y1 - loss) / (y1 - y0) * (height - 1)) : height / 2;
    grid[row][col] = '*';
  }
  const std::string top = number(y1, "%.4g"), bottom = number(y0, "%.4g");
  const size_t label = std::max(top.size(), bottom.size());
  std::string out;
  for (int r = 0; r < height; ++r) {
    std::string text = r == 0 ? top : r == height - 1 ? bottom : "";
    out += std::string(label - text.size(), ' ') + text + " |" + grid[r] + "\n";
  }
  out += std::string(label + 1, ' ') + "+" + std::string(width, '-') + "\n";
  std::string steps = std::to_string(x_lo->first);
  if (x1 > x0) {
    const std::string last = std::to_string(x_hi->first);
    steps += std::string(std::max(1, width - static_cast<int>(steps.size() + last.size())), ' ') + last;
  }
  return out + std::string(label + 2, ' ') + steps + "\n" + skipped;
}

}  // namespace omnitune
