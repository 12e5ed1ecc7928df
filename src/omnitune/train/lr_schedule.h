// train/lr_schedule: the learning rate of each iteration, as Megatron's OptimizerParamScheduler
// computes it for the seed's flags (--lr, --min-lr, --lr-decay-style, --lr-warmup-fraction|iters,
// --lr-decay-iters). `step` counts the optimizer steps already taken, so the first iteration uses
// lr_at(0): with warmup that is 0 (linear warmup from 0 to lr over W steps, lr reached at step W).
#pragma once

#include <cstdint>
#include <string>

namespace omnitune {

enum class LrDecayStyle { kConstant, kLinear, kCosine };
LrDecayStyle parse_lr_decay_style(const std::string& text);  // Error naming the valid styles

struct LrSchedule {
  double lr = 1e-5;
  double min_lr = 0.0;
  LrDecayStyle style = LrDecayStyle::kConstant;
  double warmup_steps = 0;  // W (may be fractional: fraction x decay steps, as Megatron keeps it)
  int64_t decay_steps = 0;  // D (the training iterations unless --lr-decay-iters)

  // W > 0 and s <= W: lr * s / W. Then constant: lr; s > D: min_lr; else with r = (s - W) / (D - W),
  // linear: min_lr + (lr - min_lr)(1 - r), cosine: min_lr + (lr - min_lr)(1 + cos(pi r)) / 2.
  double lr_at(int64_t step) const;
  void validate() const;  // Error for min_lr > lr, negative values, W > D with decay
};

}  // namespace omnitune
