// media/audio: audio input of the model: decode any audio file (or a video's audio track) with FFmpeg,
// mix to mono, resample to 16 kHz with soxr HQ, and compute Qwen3-Omni's Whisper log-mel features.
//
// Reference behaviour reproduced (tests/python/test_audio_features.py measures it):
//  - decoding: FFmpeg decoder output converted to float32 at the file's own rate and channel count
//    (what PyAV gives); mono = plain average of the channels in float32 (librosa.to_mono), NOT FFmpeg's
//    own downmix (which, for float output, sums stereo with 1/sqrt(2) weights and no normalisation);
//  - resampling: python `soxr.resample(x, rate, 16000, quality="HQ")` (same length, float32);
//  - features: transformers' WhisperFeatureExtractor (torch path) with the Qwen3-Omni processor's
//    settings (truncation=False, padding, attention mask) called on ONE audio.
//
// Design decisions:
//  - Every audio is featurised on its own: its features never depend on the other audios of a batch.
//    (transformers pads all audios of one call to the longest, which changes the last ~2 frames and the
//    per-audio "max - 8" floor of the shorter ones; we deliberately do not copy that.)
//  - No truncation anywhere: 45 s of audio gives 4500 frames (older processors cut at 30 s).
//  - Frames = samples_16k / 160 (floor); the STFT frame that centre padding adds at the end is dropped.
//  - Audio shorter than n_fft/2 + 1 = 201 samples at 16 kHz (about 12.6 ms) is an Error: the reference's
//    reflect padding cannot handle it (torch raises), and it would give at most one frame anyway.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

namespace omnitune {

// Mono audio at its sample rate.
struct AudioClip {
  std::vector<float> samples;
  int64_t sample_rate = 0;
};

// Decodes the best audio stream of `path` (WAV, FLAC, MP3, OGG Vorbis/Opus, M4A/AAC, the audio track of
// MP4/MKV/WebM, ... anything FFmpeg reads) at its native rate, averaged to mono. Throws Error naming the
// file when it is missing or unreadable, has no audio stream, fails to decode or decodes to no samples.
AudioClip decode_audio(const std::string& path);

// soxr "HQ" (20-bit, same settings as python soxr's default) resampling of mono float32 audio.
// Returns a copy when the rates are equal; Error for rates <= 0.
std::vector<float> resample(const std::vector<float>& samples, int64_t from_rate, int64_t to_rate);

struct LogMelConfig {
  int64_t sampling_rate = 16000, n_fft = 400, hop_length = 160, num_mel_bins = 128;
};

// Slaney-style mel filter bank [n_fft/2 + 1, num_mel_bins] (float32; computed in float64 from 0 Hz to
// 8000 Hz, area-normalised): transformers' mel_filter_bank(..., norm="slaney", mel_scale="slaney").
at::Tensor mel_filter_bank(const LogMelConfig& config = {});

// Whisper log-mel features [num_mel_bins, samples / hop_length] (float32, CPU) of mono audio at
// config.sampling_rate: periodic Hann STFT with reflect centre padding, power, mel, log10 (floor 1e-10),
// floor at (max of this audio) - 8, then (x + 4) / 4. Error when the audio has fewer than n_fft/2 + 1 samples.
at::Tensor log_mel(const std::vector<float>& samples_16k, const LogMelConfig& config = {});

struct AudioFeatures {
  at::Tensor features;  // [num_mel_bins, frames] float32
  int64_t frames = 0;
  double seconds = 0;  // duration of the decoded audio (native samples / native rate)
};

// decode_audio + resample to config.sampling_rate + log_mel; errors name `path`.
AudioFeatures load_audio_features(const std::string& path, const LogMelConfig& config = {});

}  // namespace omnitune
