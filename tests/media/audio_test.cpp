// Audio input path: mel filter bank, log-mel shapes and floors, soxr resampling, decoding of
// hand-written WAV files, and errors that name the file. (Parity with the Python references lives in
// tests/python/test_audio_features.py.)
#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <numbers>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "omnitune/media/audio.h"
#include "test_util.h"

namespace omnitune {
namespace {

using test::error_of;
using test::TempDir;

std::vector<float> tone(double hz, int64_t rate, int64_t count, double amplitude = 0.5) {
  std::vector<float> out(count);
  for (int64_t i = 0; i < count; ++i)
    out[i] = static_cast<float>(
        amplitude * std::sin(2.0 * std::numbers::pi * hz * static_cast<double>(i) / static_cast<double>(rate)));
  return out;
}

template <class T>
void put(std::string& bytes, T value) {
  bytes.append(reinterpret_cast<const char*>(&value), sizeof(T));  // little-endian host
}

// A canonical WAV file: PCM 16-bit (format 1) or IEEE float 32-bit (format 3), interleaved frames.
template <class Sample>
void write_wav(const std::string& path, int channels, int rate, const std::vector<Sample>& interleaved) {
  const uint16_t format = std::is_same_v<Sample, float> ? 3 : 1;
  const uint16_t bits = 8 * sizeof(Sample);
  const uint32_t data_bytes = static_cast<uint32_t>(interleaved.size() * sizeof(Sample));
  std::string bytes = "RIFF";
  put<uint32_t>(bytes, 36 + data_bytes);
  bytes += "WAVEfmt ";
  put<uint32_t>(bytes, 16);
  put<uint16_t>(bytes, format);
  put<uint16_t>(bytes, static_cast<uint16_t>(channels));
  put<uint32_t>(bytes, static_cast<uint32_t>(rate));
  put<uint32_t>(bytes, static_cast<uint32_t>(rate * channels * sizeof(Sample)));
  put<uint16_t>(bytes, static_cast<uint16_t>(channels * sizeof(Sample)));
  put<uint16_t>(bytes, bits);
  bytes += "data";
  put<uint32_t>(bytes, data_bytes);
  bytes.append(reinterpret_cast<const char*>(interleaved.data()), data_bytes);
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(AudioMelFilters, MatchTransformersSlaneyBank) {
  const at::Tensor filters = mel_filter_bank();
  ASSERT_EQ(filters.sizes(), (at::IntArrayRef{201, 128}));
  ASSERT_EQ(filters.scalar_type(), at::kFloat);
  EXPECT_GE(filters.min().item<float>(), 0.0f);
  // Spot values of transformers' mel_filter_bank(201, 128, 0, 8000, 16000, "slaney", "slaney") as float32.
  auto w = filters.accessor<float, 2>();
  EXPECT_FLOAT_EQ(w[1][0], 0.012373986653983593f);
  EXPECT_FLOAT_EQ(w[1][1], 0.030392564833164215f);
  EXPECT_FLOAT_EQ(w[2][2], 0.024747973307967186f);
  EXPECT_FLOAT_EQ(w[25][42], 0.03161145746707916f);
  EXPECT_FLOAT_EQ(w[199][127], 0.0011142801959067583f);
  EXPECT_EQ(w[200][127], 0.0f);
  EXPECT_EQ(w[100][90], 0.0f);
  // Every filter is non-empty, the peaks move up in frequency, and the widest filters (several 40 Hz
  // bins wide, so the sampled triangle is close to its area) have unit area in Hz (Slaney normalisation).
  const at::Tensor peaks = filters.argmax(0);
  for (int64_t i = 0; i < 128; ++i) {
    EXPECT_GT(filters.select(1, i).max().item<float>(), 0.0f) << "filter " << i;
    if (i > 0) {
      EXPECT_GE(peaks[i].item<int64_t>(), peaks[i - 1].item<int64_t>());
    }
  }
  const at::Tensor areas = filters.sum(0) * 40.0;
  for (int64_t i = 100; i < 128; ++i) EXPECT_NEAR(areas[i].item<float>(), 1.0, 0.025) << "filter " << i;
}

TEST(AudioMelFilters, OtherSizes) {
  LogMelConfig config;
  config.num_mel_bins = 80;
  EXPECT_EQ(mel_filter_bank(config).sizes(), (at::IntArrayRef{201, 80}));
  config.n_fft = 0;
  EXPECT_NE(error_of([&] { mel_filter_bank(config); }).find("invalid log-mel settings"), std::string::npos);
}

TEST(AudioLogMel, FramesAreSamplesOverHop) {
  for (int64_t count : {201, 319, 320, 16000, 16159, 16160, 48123}) {
    const at::Tensor features = log_mel(tone(440.0, 16000, count));
    EXPECT_EQ(features.sizes(), (at::IntArrayRef{128, count / 160})) << count << " samples";
    EXPECT_EQ(features.scalar_type(), at::kFloat);
    EXPECT_TRUE(features.is_contiguous());
  }
}

TEST(AudioLogMel, ToneLandsInItsMelBinAndTheFloorIsEightDecadesBelowThePeak) {
  const at::Tensor features = log_mel(tone(1000.0, 16000, 16000));
  ASSERT_EQ(features.size(1), 100);
  // 1000 Hz = 15 Slaney mels; the 128 filters are 45.2456 / 129 = 0.3507 mels apart: peak of filter 42.
  EXPECT_EQ(features.select(1, 50).argmax().item<int64_t>(), 42);
  const float top = features.max().item<float>(), bottom = features.min().item<float>();
  EXPECT_NEAR(top - bottom, 2.0f, 1e-5);  // (M + 4)/4 - (M - 8 + 4)/4
}

TEST(AudioLogMel, SilenceIsFlat) {
  const at::Tensor features = log_mel(std::vector<float>(3200, 0.0f));
  // log10(1e-10) = -10 everywhere, so (-10 + 4) / 4.
  EXPECT_TRUE(at::allclose(features, at::full({128, 20}, -1.5f)));
}

TEST(AudioLogMel, TooShortIsAnError) {
  EXPECT_NE(error_of([] { log_mel(std::vector<float>(200, 0.1f)); }).find("too short"), std::string::npos);
  EXPECT_NE(error_of([] { log_mel({}); }).find("0 samples"), std::string::npos);
}

TEST(AudioResample, LengthsAndToneKept) {
  const std::vector<float> in = tone(1000.0, 44100, 44100, 0.125);
  const std::vector<float> out = resample(in, 44100, 16000);
  ASSERT_EQ(out.size(), 16000u);
  const std::vector<float> expected = tone(1000.0, 16000, 16000, 0.125);
  for (size_t i = 1000; i < 15000; ++i) ASSERT_NEAR(out[i], expected[i], 1e-4) << i;

  EXPECT_EQ(resample(tone(300.0, 8000, 8000), 8000, 16000).size(), 16000u);
  EXPECT_EQ(resample(in, 44100, 44100), in);
  EXPECT_TRUE(resample({}, 48000, 16000).empty());
  EXPECT_NE(error_of([&] { resample(in, 0, 16000); }).find("rates must be positive"), std::string::npos);
}

TEST(AudioDecode, Pcm16StereoIsAveragedToMono) {
  TempDir dir;
  const std::string path = dir.file("stereo.wav");
  std::vector<int16_t> frames;
  for (int i = 0; i < 1000; ++i) {
    frames.push_back(static_cast<int16_t>(i * 31 - 15000));
    frames.push_back(static_cast<int16_t>(7000 - i * 13));
  }
  write_wav(path, 2, 22050, frames);
  const AudioClip clip = decode_audio(path);
  EXPECT_EQ(clip.sample_rate, 22050);
  ASSERT_EQ(clip.samples.size(), 1000u);
  for (size_t i = 0; i < 1000; ++i) {
    const float left = frames[2 * i] / 32768.0f, right = frames[2 * i + 1] / 32768.0f;
    ASSERT_EQ(clip.samples[i], (left + right) / 2.0f) << i;
  }
}

TEST(AudioDecode, FloatMonoIsExact) {
  TempDir dir;
  const std::string path = dir.file("mono.wav");
  const std::vector<float> samples = tone(440.0, 16000, 4000, 0.7);
  write_wav(path, 1, 16000, samples);
  const AudioClip clip = decode_audio(path);
  EXPECT_EQ(clip.sample_rate, 16000);
  EXPECT_EQ(clip.samples, samples);
}

TEST(AudioFeaturesLoad, ResamplesAndCountsFrames) {
  TempDir dir;
  const std::string path = dir.file("8k.wav");
  write_wav(path, 1, 8000, tone(300.0, 8000, 12000));
  const AudioFeatures features = load_audio_features(path);
  EXPECT_DOUBLE_EQ(features.seconds, 1.5);
  EXPECT_EQ(features.frames, 150);
  EXPECT_EQ(features.features.sizes(), (at::IntArrayRef{128, 150}));
  EXPECT_TRUE(at::equal(features.features, log_mel(resample(decode_audio(path).samples, 8000, 16000))));
}

TEST(AudioErrors, NameTheFile) {
  TempDir dir;
  const std::string missing = dir.file("missing.flac");
  EXPECT_NE(error_of([&] { decode_audio(missing); }).find(missing), std::string::npos);
  EXPECT_NE(error_of([&] { load_audio_features(missing); }).find(missing), std::string::npos);

  const std::string garbage = dir.file("garbage.wav");
  test::write_text(garbage, std::string(3000, '\x7f') + "not audio at all");
  EXPECT_NE(error_of([&] { decode_audio(garbage); }).find(garbage), std::string::npos);

  const std::string empty = dir.file("empty.mp3");
  test::write_text(empty, "");
  EXPECT_NE(error_of([&] { decode_audio(empty); }).find(empty), std::string::npos);

  const std::string no_samples = dir.file("no_samples.wav");
  write_wav(no_samples, 1, 16000, std::vector<int16_t>{});
  EXPECT_NE(error_of([&] { decode_audio(no_samples); }).find(no_samples), std::string::npos);

  const std::string too_short = dir.file("too_short.wav");
  write_wav(too_short, 1, 16000, std::vector<int16_t>(150, 1000));
  const std::string message = error_of([&] { load_audio_features(too_short); });
  EXPECT_NE(message.find(too_short), std::string::npos) << message;
  EXPECT_NE(message.find("too short"), std::string::npos) << message;
}

}  // namespace
}  // namespace omnitune
