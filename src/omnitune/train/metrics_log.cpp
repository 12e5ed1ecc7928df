#include "omnitune/train/metrics_log.h"

#include <sys/resource.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <c10/cuda/CUDACachingAllocator.h>
#include <nlohmann/json.hpp>

#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/core/log.h"
#include "omnitune/io/atomic_file.h"

namespace omnitune {

namespace {

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

MetricsLog::MetricsLog(const std::string& metrics_path, const std::string& tensorboard_dir, int64_t start_iteration)
    : metrics_path_(metrics_path) {
  if (!metrics_path_.empty() && std::filesystem::exists(metrics_path_)) {  // a resumed run: keep the earlier curve
    const std::string text = read_text_file(metrics_path_, "metrics file");
    std::istringstream in(text);
    std::string line, kept;
    int64_t dropped = 0;
    for (int64_t n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.contains("iteration") || !j["iteration"].is_number_integer()) {
        log_warn(cat(metrics_path_, " line ", n, " is not a metrics record; the loss curve leaves it out"));
        kept += line + "\n";
        continue;
      }
      const int64_t iteration = j["iteration"].get<int64_t>();
      if (iteration > start_iteration) {
        ++dropped;
        continue;
      }
      kept += line + "\n";
      losses_.emplace_back(iteration, j["loss"].is_number() ? j["loss"].get<double>() : NAN);
      if (j.contains("eval_loss"))
        eval_losses_.emplace_back(iteration, j["eval_loss"].is_number() ? j["eval_loss"].get<double>() : NAN);
    }
    if (dropped > 0) {
      write_file_atomic(metrics_path_, kept);
      log_info(cat(metrics_path_, ": dropped ", dropped, " records after iteration ", start_iteration,
                   " (this run continues from there)"));
    }
  }
  if (!tensorboard_dir.empty()) {
    tensorboard_ = std::make_unique<TensorBoardWriter>(tensorboard_dir);
    tensorboard_->restart_at(start_iteration + 1);  // hides what earlier runs wrote from there on
  }
}

void MetricsLog::record(const IterationRecord& r) {
  std::string line = cat(" iteration ", r.iteration, "/", r.train_iters, " | consumed samples: ", r.consumed_samples,
                         " | elapsed time per iteration (ms): ", format("%.1f", r.ms_per_iter),
                         " | learning rate: ", format("%.6E", r.lr), " | global batch size: ", r.global_batch,
                         " | loss: ", format("%.6E", r.loss));
  if (r.has_aux) line += " | aux loss: " + format("%.6E", r.aux_loss);
  line += cat(" | grad norm: ", format("%.3f", r.grad_norm), " | tokens/s: ", format("%.1f", r.tokens_per_s),
              " | TFLOP/s: ", format("%.3f", r.tflops), " | MFU: ", format("%.2f%%", 100 * r.mfu),
              " | peak memory (MB): ", format("%.0f", r.peak_memory_mb), " |");
  if (r.eval_loss) line += " eval loss: " + format("%.6E", *r.eval_loss) + " |";
  log_info(line);
  losses_.emplace_back(r.iteration, r.loss);
  if (r.eval_loss) eval_losses_.emplace_back(r.iteration, *r.eval_loss);

  if (!metrics_path_.empty()) {
    nlohmann::json j = {{"iteration", r.iteration},
                        {"loss", number(r.loss)},
                        {"lr", r.lr},
                        {"grad_norm", number(r.grad_norm)},
                        {"tokens_per_s", r.tokens_per_s},
                        {"mfu", r.mfu},
                        {"consumed_samples", r.consumed_samples},
                        {"ms_per_iter", r.ms_per_iter},
                        {"tflops", r.tflops},
                        {"peak_memory_mb", r.peak_memory_mb},
                        {"tokens", r.tokens},
                        {"labels", r.labels},
                        {"time", static_cast<int64_t>(std::time(nullptr))}};
    if (r.has_aux) j["aux_loss"] = number(r.aux_loss);
    if (r.eval_loss) j["eval_loss"] = number(*r.eval_loss);
    std::ofstream out(metrics_path_, std::ios::app);
    out << j.dump() << "\n";
    out.flush();
    if (!out) {
      const int err = errno;
      throw Error(
          cat(metrics_path_, ": cannot append the metrics record: ",
              std::filesystem::is_directory(metrics_path_) ? "it is a directory, not a file" : std::strerror(err)));
    }
  }
  if (tensorboard_) {
    tensorboard_->add_scalar("train/loss", r.loss, r.iteration);
    tensorboard_->add_scalar("train/lr", r.lr, r.iteration);
    tensorboard_->add_scalar("train/grad_norm", r.grad_norm, r.iteration);
    tensorboard_->add_scalar("train/tokens_per_s", r.tokens_per_s, r.iteration);
    tensorboard_->add_scalar("train/mfu", r.mfu, r.iteration);
    tensorboard_->add_scalar("train/ms_per_iter", r.ms_per_iter, r.iteration);
    tensorboard_->add_scalar("train/peak_memory_mb", r.peak_memory_mb, r.iteration);
    if (r.has_aux) tensorboard_->add_scalar("train/aux_loss", r.aux_loss, r.iteration);
    if (r.eval_loss) tensorboard_->add_scalar("eval/loss", *r.eval_loss, r.iteration);
    tensorboard_->flush();
  }
}

std::string format_phases(const PhaseTimes& t) {
  const double total = std::max(t.total(), 1e-9);
  auto part = [&](const char* name, double s) {
    return cat(name, " ", format("%.2f", s), "s (", format("%.0f", 100 * s / total), "%)");
  };
  return cat(part("data wait", t.data), " | ", part("forward", t.forward), " | ", part("backward", t.backward), " | ",
             part("optimizer", t.optimizer), " | ", part("checkpoint", t.checkpoint));
}

double peak_memory_mb(bool cuda) {
  if (cuda) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(c10::cuda::current_device());
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB -> MiB
}

}  // namespace omnitune
