// model/audio_lengths: how many encoder tokens an audio of T mel frames becomes (the AuT conv stack
// maps each 2*n_window-frame chunk of c frames to ceil(c/8) tokens: 13 for a full 100-frame chunk).
#pragma once

#include <cstdint>

namespace omnitune {

// Tokens after three stride-2 convs of a chunk of `frames` (>= 0) mel frames: ((((c-1)//2+1)-1)//2+1-1)//2+1,
// with 0 for 0 frames (Python floor division, not C++ truncation).
constexpr int64_t conv_output_length(int64_t frames) {
  if (frames <= 0) return 0;
  for (int i = 0; i < 3; ++i) frames = (frames - 1) / 2 + 1;
  return frames;
}

// Tokens of a whole audio: full chunks of `chunk` frames (100 for Qwen3-Omni) plus the remainder.
constexpr int64_t audio_output_length(int64_t mel_frames, int64_t chunk = 100) {
  return conv_output_length(chunk) * (mel_frames / chunk) + conv_output_length(mel_frames % chunk);
}

static_assert(audio_output_length(1000) == 130);
static_assert(audio_output_length(370) == 48);
static_assert(audio_output_length(100) == 13 && audio_output_length(0) == 0 && audio_output_length(1) == 1);

}  // namespace omnitune
