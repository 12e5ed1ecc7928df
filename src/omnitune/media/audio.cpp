// load_audio_features: the whole audio path of one file (decode, mono, resample, log-mel).
#include <ATen/ATen.h>

#include "omnitune/core/error.h"
#include "omnitune/media/audio.h"

namespace omnitune {

AudioFeatures load_audio_features(const std::string& path, const LogMelConfig& config) {
  AudioClip clip = decode_audio(path);  // its Errors name the file already
  AudioFeatures result;
  result.seconds = static_cast<double>(clip.samples.size()) / static_cast<double>(clip.sample_rate);
  try {
    if (clip.sample_rate == config.sampling_rate) {
      result.features = log_mel(clip.samples, config);
    } else {
      result.features = log_mel(resample(clip.samples, clip.sample_rate, config.sampling_rate), config);
    }
  } catch (const Error& e) {
    throw Error(cat("audio file '", path, "': ", e.what()));
  }
  result.frames = result.features.size(1);
  return result;
}

}  // namespace omnitune
