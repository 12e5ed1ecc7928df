#include "omnitune/train/train_step.h"

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <chrono>
#include <cmath>

#include "omnitune/core/error.h"
#include "omnitune/train/loss_weights.h"

namespace omnitune {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0, at::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

at::Tensor move(const at::Tensor& t, at::Device device, at::ScalarType compute) {
  if (!t.defined()) return t;
  return t.is_floating_point() ? t.to(device, compute) : t.to(device);
}

}  // namespace

ThinkerInputs to_inputs(const Batch& b, at::Device device, at::ScalarType compute) {
  ThinkerInputs in;
  in.input_ids = move(b.input_ids, device, compute);
  in.attention_mask = move(b.attention_mask, device, compute);
  in.labels = move(b.labels, device, compute);
  in.pixel_values = move(b.pixel_values, device, compute);
  in.image_grid_thw = move(b.image_grid_thw, device, compute);
  in.pixel_values_videos = move(b.pixel_values_videos, device, compute);
  in.video_grid_thw = move(b.video_grid_thw, device, compute);
  in.video_second_per_grid = move(b.video_second_per_grid, device, compute);
  in.input_features = move(b.input_features, device, compute);
  in.feature_attention_mask = move(b.feature_attention_mask, device, compute);
  in.use_audio_in_video = b.use_audio_in_video;
  return in;
}

StepResult forward_backward(ThinkerImpl& model, const std::vector<Batch>& micro, LossType type, double aux_coef,
                            MasterWeights& masters, at::Device device, at::ScalarType compute) {
  std::vector<at::Tensor> labels;
  for (const auto& b : micro) labels.push_back(b.labels);
  std::vector<at::Tensor> weights = label_weights(labels, type);
  const bool fused = model.options.loss_chunk_rows > 0;
  StepResult r;
  for (size_t m = 0; m < micro.size(); ++m) {
    auto t0 = std::chrono::steady_clock::now();
    ThinkerInputs in = to_inputs(micro[m], device, compute);
    in.label_weights = weights[m].to(device);
    ThinkerOutputs out = model.forward(in);
    at::Tensor objective = out.lm_loss;
    if (aux_coef > 0 && out.aux_loss.defined()) {
      objective = objective + (aux_coef / static_cast<double>(micro.size())) * out.aux_loss.to(at::kFloat);
      r.aux_loss += out.aux_loss.item<double>() / static_cast<double>(micro.size());
    }
    r.forward_s += seconds_since(t0, device);
    auto t1 = std::chrono::steady_clock::now();
    objective.backward();
    masters.accumulate_grads();
    r.backward_s += seconds_since(t1, device);
    const double micro_loss = out.lm_loss.item<double>();
    if (!std::isfinite(micro_loss) && r.first_nonfinite < 0) r.first_nonfinite = static_cast<int64_t>(m);
    r.loss += micro_loss;
    const int64_t n_labels = count_labels(micro[m].labels);
    r.labels += n_labels;
    r.tokens += micro[m].attention_mask.sum().item<int64_t>();
    r.flops += training_flops(model.config, micro[m], fused ? n_labels : micro[m].input_ids.numel());
  }
  return r;
}

double clip_grad_norm(std::vector<at::Tensor>& grads, double max_norm) {
  if (grads.empty()) return 0;
  std::vector<at::Tensor> norms;
  for (const auto& g : grads) norms.push_back(at::linalg_vector_norm(g, 2));
  at::Tensor total = at::linalg_vector_norm(at::stack(norms), 2);
  if (max_norm > 0) {
    at::Tensor coef = at::clamp_max(max_norm / (total + 1e-6), 1.0);
    for (auto& g : grads) g.mul_(coef);
  }
  return total.item<double>();
}

}  // namespace omnitune
