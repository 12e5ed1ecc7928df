#include "omnitune/train/loss_weights.h"

#include <ATen/ATen.h>

#include "omnitune/model/causal_lm_loss.h"

namespace omnitune {

namespace {

at::Tensor predicted(const at::Tensor& labels) { return predicted_labels(labels).to(at::kFloat); }  // [B, S] 0/1

}  // namespace

int64_t count_labels(const at::Tensor& labels) { return predicted(labels).sum().item<double>(); }

std::vector<at::Tensor> label_weights(const std::vector<at::Tensor>& labels, LossType type, const StepTotals* totals) {
  std::vector<at::Tensor> masks, out;
  double total = 0;
  for (const auto& l : labels) {
    masks.push_back(predicted(l));
    total += masks.back().sum().item<double>();
  }
  double micro = static_cast<double>(labels.size());
  if (totals) micro = static_cast<double>(totals->micro_batches), total = static_cast<double>(totals->labels);
  for (const auto& m : masks) {
    switch (type) {
      case LossType::kDefault: {
        const double n = m.sum().item<double>();
        out.push_back(n > 0 ? m / (n * micro) : m);
        break;
      }
      case LossType::kPerSample: {
        at::Tensor per_row = m.sum(1, /*keepdim=*/true);  // [B, 1]
        const double rows = (per_row > 0).sum().item<double>();
        out.push_back(rows > 0 ? m / (per_row.clamp_min(1) * rows * micro) : m);
        break;
      }
      case LossType::kPerToken: out.push_back(total > 0 ? m / total : m); break;
    }
  }
  return out;
}

}  // namespace omnitune
