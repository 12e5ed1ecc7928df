// demo/voice: speech-like sound: the harmonics of a voice whose pitch glides, shaped by moving vowel
// formants and cut into syllables, at 44.1 kHz (so the data pipeline's resampling to 16 kHz runs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rng.h"

namespace omnitune::demo {

inline constexpr int kAudioRate = 44100;

struct Voice {
  double seconds = 0;
  double pitch_start = 0, pitch_end = 0;  // Hz
  int syllables = 0;
  std::vector<int16_t> samples;  // mono, kAudioRate

  std::string description()
      const;  // e.g. "a high voice-like sound with 5 syllables whose pitch rises from 180 Hz to 240 Hz"
};

// A random pitch glide (rising, falling or level) and 2.5-4 syllables per second.
Voice synthesize_voice(Rng& rng, double seconds);

// 16-bit mono PCM in a RIFF/WAVE file.
std::string wav_bytes(const std::vector<int16_t>& samples, int rate);

}  // namespace omnitune::demo
