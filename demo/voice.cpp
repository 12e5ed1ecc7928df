#include "voice.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "omnitune/core/error.h"

namespace omnitune::demo {

namespace {

// F1-F3 of five vowels (Hz), roughly an adult speaker's.
constexpr std::array<std::array<double, 3>, 5> kVowels = {
    {{800, 1200, 2500}, {300, 2300, 3000}, {300, 800, 2300}, {500, 1900, 2500}, {500, 900, 2400}}};
constexpr std::array<double, 3> kFormantGain = {1.0, 0.55, 0.3}, kFormantWidth = {90, 110, 150};

void put_le(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

}  // namespace

std::string Voice::description() const {
  const double mean = (pitch_start + pitch_end) / 2;
  const char* register_word = mean < 140 ? "low" : mean > 210 ? "high" : "medium";
  std::string pitch;
  if (std::abs(pitch_end - pitch_start) < 15)
    pitch = cat("stays near ", std::lround(mean), " Hz");
  else
    pitch = cat(pitch_end > pitch_start ? "rises" : "falls", " from ", std::lround(pitch_start), " Hz to ",
                std::lround(pitch_end), " Hz");
  return cat("a ", register_word, " voice-like sound with ", syllables, " syllable", syllables == 1 ? "" : "s",
             " whose pitch ", pitch);
}

Voice synthesize_voice(Rng& rng, double seconds) {
  Voice v;
  v.seconds = seconds;
  v.pitch_start = rng.uniform(95, 260);
  const int contour = rng.integer(0, 2);  // 0 rising, 1 falling, 2 level
  v.pitch_end = contour == 2 ? v.pitch_start * rng.uniform(0.97, 1.03)
                             : v.pitch_start * (contour == 0 ? rng.uniform(1.25, 1.6) : rng.uniform(0.6, 0.8));
  v.syllables = std::max(1, static_cast<int>(std::lround(seconds * rng.uniform(2.5, 4.0))));
  std::vector<int> vowel(v.syllables);
  std::vector<double> voiced(v.syllables);  // fraction of each syllable that sounds
  for (int s = 0; s < v.syllables; ++s) vowel[s] = rng.integer(0, 4), voiced[s] = rng.uniform(0.7, 0.92);

  const int64_t n = std::lround(seconds * kAudioRate);
  const double syllable_len = seconds / v.syllables;
  std::vector<double> out(n);
  double phase = 0, peak = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / kAudioRate;
    const int s = std::min(v.syllables - 1, static_cast<int>(t / syllable_len));
    const double u = t / syllable_len - s;  // position within the syllable, [0, 1)
    // Syllable envelope: a smooth rise and fall over the voiced part, silence after it.
    const double envelope = u < voiced[s] ? std::pow(std::sin(std::numbers::pi * u / voiced[s]), 0.6) : 0.0;
    // Pitch: the glide, a small fall within each syllable, 5 Hz vibrato.
    const double f0 = (v.pitch_start + (v.pitch_end - v.pitch_start) * t / seconds) * (1.04 - 0.08 * u) *
                      (1 + 0.012 * std::sin(2 * std::numbers::pi * 5 * t));
    phase = std::fmod(phase + 2 * std::numbers::pi * f0 / kAudioRate, 2 * std::numbers::pi);
    if (envelope == 0) continue;
    // Formants glide from the previous syllable's vowel over the first 30% of this one.
    const double blend = s == 0 ? 1.0 : std::min(1.0, u / 0.3);
    const auto& from = kVowels[vowel[s == 0 ? 0 : s - 1]];
    const auto& to = kVowels[vowel[s]];
    double x = 0;
    for (int k = 1; k * f0 < 4500; ++k) {
      double gain = 0;
      for (int f = 0; f < 3; ++f) {
        const double formant = from[f] + (to[f] - from[f]) * blend, d = (k * f0 - formant) / kFormantWidth[f];
        gain += kFormantGain[f] / (1 + d * d);
      }
      x += (gain + 0.02) / std::sqrt(k) * std::sin(k * phase);
    }
    out[i] = envelope * x + 0.004 * envelope * rng.uniform(-1, 1);  // a little breath
    peak = std::max(peak, std::abs(out[i]));
  }
  v.samples.resize(n);
  const double scale = peak > 0 ? 0.6 * 32767 / peak : 0;
  for (int64_t i = 0; i < n; ++i) v.samples[i] = static_cast<int16_t>(std::lround(out[i] * scale));
  return v;
}

std::string wav_bytes(const std::vector<int16_t>& samples, int rate) {
  const uint32_t data_size = static_cast<uint32_t>(samples.size() * 2);
  std::string out = "RIFF";
  put_le(out, 36 + data_size, 4);
  out += "WAVEfmt ";
  put_le(out, 16, 4);  // fmt chunk size
  put_le(out, 1, 2);   // PCM
  put_le(out, 1, 2);   // mono
  put_le(out, rate, 4);
  put_le(out, rate * 2, 4);  // bytes per second
  put_le(out, 2, 2);         // bytes per frame
  put_le(out, 16, 2);        // bits per sample
  out += "data";
  put_le(out, data_size, 4);
  for (int16_t s : samples) put_le(out, static_cast<uint16_t>(s), 2);
  return out;
}

}  // namespace omnitune::demo
