#include "omnitune/train/lr_schedule.h"

#include <cmath>
#include <numbers>

#include "omnitune/core/enum_names.h"
#include "omnitune/core/error.h"

namespace omnitune {

LrDecayStyle parse_lr_decay_style(const std::string& text) {
  static const EnumNames<LrDecayStyle> names = {
      {LrDecayStyle::kConstant, "constant"}, {LrDecayStyle::kLinear, "linear"}, {LrDecayStyle::kCosine, "cosine"}};
  return parse_enum(names, text, "--lr-decay-style", "style");
}

void LrSchedule::validate() const {
  if (lr < 0 || min_lr < 0) throw Error(cat("--lr ", lr, " and --min-lr ", min_lr, " must not be negative"));
  if (min_lr > lr) throw Error(cat("--min-lr ", min_lr, " is larger than --lr ", lr));
  if (warmup_steps < 0) throw Error("the warmup must not be negative");
  if (style != LrDecayStyle::kConstant && warmup_steps > static_cast<double>(decay_steps))
    throw Error(cat("the warmup (", warmup_steps, " steps) is longer than the decay (", decay_steps, " steps)"));
}

double LrSchedule::lr_at(int64_t step) const {
  const double s = static_cast<double>(step);
  if (warmup_steps > 0 && s <= warmup_steps) return lr * s / warmup_steps;
  if (style == LrDecayStyle::kConstant) return lr;
  if (step > decay_steps) return min_lr;
  const double span = static_cast<double>(decay_steps) - warmup_steps;
  const double ratio = span > 0 ? (s - warmup_steps) / span : 1.0;
  const double coeff = style == LrDecayStyle::kLinear ? 1.0 - ratio : 0.5 * (std::cos(std::numbers::pi * ratio) + 1.0);
  return min_lr + coeff * (lr - min_lr);
}

}  // namespace omnitune
