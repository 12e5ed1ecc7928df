// resample: libsoxr "HQ" mono float32 conversion, set up like python soxr.resample(x, a, b, "HQ"):
// quality recipe SOXR_HQ with no flags, default runtime settings, output capped at
// floor(n * to / from) + 1 samples, input fed in blocks and the resampler flushed at the end.
#include <algorithm>
#include <memory>

#include <soxr.h>

#include "omnitune/core/error.h"
#include "omnitune/media/audio.h"

namespace omnitune {
namespace {

struct SoxrDeleter {
  void operator()(soxr_t soxr) const { soxr_delete(soxr); }
};

}  // namespace

std::vector<float> resample(const std::vector<float>& samples, int64_t from_rate, int64_t to_rate) {
  if (from_rate <= 0 || to_rate <= 0)
    throw Error(cat("cannot resample audio from ", from_rate, " Hz to ", to_rate, " Hz: rates must be positive"));
  if (from_rate == to_rate || samples.empty()) return samples;

  const double in_rate = static_cast<double>(from_rate), out_rate = static_cast<double>(to_rate);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t error = nullptr;
  std::unique_ptr<soxr, SoxrDeleter> soxr(soxr_create(in_rate, out_rate, 1, &error, &io, &quality, nullptr));
  if (error || !soxr)
    throw Error(cat("cannot resample audio from ", from_rate, " Hz to ", to_rate,
                    " Hz: ", error ? error : "soxr_create failed"));

  const size_t in_count = samples.size();
  const size_t capacity = static_cast<size_t>(static_cast<double>(in_count) * out_rate / in_rate) + 1;
  std::vector<float> out(capacity);
  // About one second of output per block: bounded work per call, same result as one big call.
  const size_t block = static_cast<size_t>(std::max(1000.0, 48000.0 * in_rate / out_rate));
  size_t written = 0;
  for (size_t start = 0; start < in_count && !error; start += block) {
    size_t done = 0;
    error = soxr_process(soxr.get(), samples.data() + start, std::min(block, in_count - start), nullptr,
                         out.data() + written, capacity - written, &done);
    written += done;
  }
  if (!error) {
    size_t done = 0;
    error = soxr_process(soxr.get(), nullptr, 0, nullptr, out.data() + written, capacity - written, &done);
    written += done;
  }
  if (error) throw Error(cat("resampling audio from ", from_rate, " Hz to ", to_rate, " Hz failed: ", error));
  out.resize(written);
  return out;
}

}  // namespace omnitune
