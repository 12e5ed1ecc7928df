// Test helper for tests/python/test_audio_features.py:
//   audio_features_tool <audio file> <out.safetensors>
// runs the C++ audio path on one file and writes `samples_native` [N0] (decoded, mono, native rate),
// `native_rate` [1], `samples_16k` [N] (after resampling), `features` [128, T] and `tokens` [1]
// (audio tokens the encoder makes of T frames). Errors are printed to stderr with exit code 1.
#include <ATen/ATen.h>

#include <iostream>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/media/audio.h"
#include "omnitune/model/audio_lengths.h"

namespace {

at::Tensor to_tensor(const std::vector<float>& values) {
  return at::from_blob(const_cast<float*>(values.data()), {static_cast<int64_t>(values.size())}, at::kFloat).clone();
}

int run(const std::string& input, const std::string& output) {
  // The one-call path first (its errors name the file), then the stages one by one: same features.
  const omnitune::AudioFeatures loaded = omnitune::load_audio_features(input);
  const omnitune::AudioClip clip = omnitune::decode_audio(input);
  const std::vector<float> samples_16k = omnitune::resample(clip.samples, clip.sample_rate, 16000);
  const at::Tensor features = omnitune::log_mel(samples_16k);
  if (!at::equal(loaded.features, features) || loaded.frames != features.size(1))
    throw omnitune::Error("load_audio_features differs from decode_audio + resample + log_mel");
  omnitune::save_tensors(output, {{"samples_native", to_tensor(clip.samples)},
                                  {"native_rate", at::full({1}, clip.sample_rate, at::kLong)},
                                  {"samples_16k", to_tensor(samples_16k)},
                                  {"features", features},
                                  {"seconds", at::full({1}, loaded.seconds, at::kDouble)},
                                  {"tokens", at::full({1}, omnitune::audio_output_length(loaded.frames), at::kLong)}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: audio_features_tool <audio file> <out.safetensors>\n";
    return 2;
  }
  try {
    return run(argv[1], argv[2]);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
