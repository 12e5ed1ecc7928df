// log_mel: Whisper log-mel features with the same ATen operations, shapes and dtypes as transformers'
// WhisperFeatureExtractor._torch_extract_fbank_features (a batch of one), so the float32 results agree
// to rounding; the mel filter bank follows transformers' audio_utils.mel_filter_bank in float64.
#include <ATen/ATen.h>

#include <cmath>

#include "omnitune/core/error.h"
#include "omnitune/media/audio.h"

namespace omnitune {
namespace {

// Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above (27 mels per factor 6.4).
constexpr double kLogStartHz = 1000.0, kLogStartMel = 15.0;

double hz_to_mel(double hz) {
  if (hz < kLogStartHz) return 3.0 * hz / 200.0;
  return kLogStartMel + std::log(hz / kLogStartHz) * (27.0 / std::log(6.4));
}

double mel_to_hz(double mel) {
  if (mel < kLogStartMel) return 200.0 * mel / 3.0;
  return kLogStartHz * std::exp((std::log(6.4) / 27.0) * (mel - kLogStartMel));
}

// numpy.linspace(start, stop, count)[i]: i * step + start, the last point exactly `stop`.
double linspace_at(double start, double stop, int64_t count, int64_t i) {
  if (i == count - 1) return stop;
  return static_cast<double>(i) * ((stop - start) / static_cast<double>(count - 1)) + start;
}

void check_config(const LogMelConfig& config) {
  if (config.sampling_rate <= 0 || config.n_fft < 2 || config.hop_length <= 0 || config.num_mel_bins <= 0)
    throw Error(cat("invalid log-mel settings: sampling_rate ", config.sampling_rate, ", n_fft ", config.n_fft,
                    ", hop_length ", config.hop_length, ", num_mel_bins ", config.num_mel_bins));
}

}  // namespace

at::Tensor mel_filter_bank(const LogMelConfig& config) {
  check_config(config);
  const int64_t bins = config.n_fft / 2 + 1, mels = config.num_mel_bins;
  // Whisper fixes the band to 0..8000 Hz whatever the sampling rate.
  const double min_hz = 0.0, max_hz = 8000.0;
  std::vector<double> edges(mels + 2);  // filter corner frequencies in Hz, evenly spaced in mels
  for (int64_t i = 0; i < mels + 2; ++i)
    edges[i] = mel_to_hz(linspace_at(hz_to_mel(min_hz), hz_to_mel(max_hz), mels + 2, i));

  at::Tensor filters = at::empty({bins, mels}, at::kDouble);
  auto w = filters.accessor<double, 2>();
  for (int64_t j = 0; j < bins; ++j) {
    const double hz = linspace_at(0.0, static_cast<double>(config.sampling_rate / 2), bins, j);
    for (int64_t i = 0; i < mels; ++i) {
      const double rising = -(edges[i] - hz) / (edges[i + 1] - edges[i]);
      const double falling = (edges[i + 2] - hz) / (edges[i + 2] - edges[i + 1]);
      const double area_norm = 2.0 / (edges[i + 2] - edges[i]);
      w[j][i] = std::max(0.0, std::min(rising, falling)) * area_norm;
    }
  }
  return filters.to(at::kFloat);
}

at::Tensor log_mel(const std::vector<float>& samples_16k, const LogMelConfig& config) {
  check_config(config);
  const int64_t count = static_cast<int64_t>(samples_16k.size());
  const int64_t minimum = config.n_fft / 2 + 1;
  if (count < minimum)
    throw Error(cat("audio too short for log-mel features: ", count, " samples at ", config.sampling_rate,
                    " Hz; at least ", minimum, " (",
                    1000.0 * static_cast<double>(minimum) / static_cast<double>(config.sampling_rate),
                    " ms) are needed"));

  // [1, N] like the reference's batch of one; stft only reads the input.
  at::Tensor wave = at::from_blob(const_cast<float*>(samples_16k.data()), {1, count}, at::kFloat);
  at::Tensor window = at::hann_window(config.n_fft, /*periodic=*/true, at::kFloat);
  at::Tensor spectrum =
      at::stft(wave, config.n_fft, config.hop_length, std::nullopt, window, /*center=*/true, "reflect",
               /*normalized=*/false, std::nullopt, /*return_complex=*/true);
  // Drop the frame centred past the end: N / hop frames remain.
  at::Tensor power = spectrum.slice(/*dim=*/-1, 0, -1).abs().pow(2);
  at::Tensor mel = at::matmul(mel_filter_bank(config).t(), power);  // [1, mels, frames]
  at::Tensor log_spec = at::clamp(mel, 1e-10).log10();
  log_spec = at::maximum(log_spec, log_spec.max() - 8.0);
  log_spec = (log_spec + 4.0) / 4.0;
  return log_spec.squeeze(0).contiguous();
}

}  // namespace omnitune
