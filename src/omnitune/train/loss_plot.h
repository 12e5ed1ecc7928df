// train/loss_plot: the loss curve of a run as an SVG file (axes with tick labels, one line) and as a
// small text chart for the terminal. Points are (step, loss) in logging order; NaN/inf losses are not
// drawn but marked at their step and counted in the title. Where the step does not increase (a
// resumed run's points appended after the earlier ones) a new line starts.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace omnitune {

using LossPoints = std::vector<std::pair<int64_t, double>>;

// The SVG document; each line is a <polyline> with one vertex per finite point. `validation` points (the
// evaluations' losses), when any, are a second series with a dot at each and a legend.
std::string loss_curve_svg(const LossPoints& points, const std::string& title, const LossPoints& validation = {});
// loss_curve_svg written atomically to `path` (Error naming the file).
void write_loss_curve_svg(const std::string& path, const LossPoints& points, const std::string& title,
                          const LossPoints& validation = {});

// A width x height grid of '*' with the loss range on the left and the step range below; Error for a
// width or height under 2.
std::string ascii_loss_curve(const LossPoints& points, int width = 60, int height = 12);

}  // namespace omnitune
