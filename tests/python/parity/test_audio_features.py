"""The C++ audio path (decode -> mono -> soxr HQ to 16 kHz -> Whisper log-mel) against the Python references:
PyAV decoding (averaged to mono like librosa.to_mono), python soxr.resample(..., quality="HQ") and
transformers' WhisperFeatureExtractor with the Qwen3-Omni processor settings, one audio per call.

Test files are made with the ffmpeg command-line tool from synthetic speech-like signals: WAV (16-bit and
float), FLAC (16/24-bit), MP3, OGG Vorbis, OGG Opus, M4A (AAC) and the audio track of MP4/MKV/WebM videos,
at 8/16/44.1/48 kHz, mono, stereo and 5.1, 1 s, 4 s, 45 s (no 30 s truncation) and 50 ms long.
Each stage is compared on the C++ output of the stage before it, so every error is that stage's own.
"""
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zlib

import av
import numpy as np
import soxr
from safetensors.numpy import load_file
from transformers import WhisperFeatureExtractor
from transformers.models.qwen3_omni_moe.processing_qwen3_omni_moe import _get_feat_extract_output_lengths
from common import REAL_DIR

TOOL = os.path.join(os.environ["OMNITUNE_TOOLS_DIR"], "audio_features_tool")

RESAMPLE_TOL = 1e-5
FEATURE_TOL = 1e-4
# Lossless formats (and MP3) decode bit-exactly. Ours is Debian's FFmpeg 5.1 while PyAV bundles a newer
# FFmpeg: the AAC, Vorbis and Opus float decoders round differently by up to ~2e-7 (same lengths).
LOSSY_DECODE_TOL = 1e-6

# name, container extension, codec arguments, sample rate, channels, seconds, lossless?, video codec args
CASES = [
    ("wav_s16_16k_mono_4s", "wav", ["-c:a", "pcm_s16le"], 16000, 1, 4.0, True, None),
    ("wav_s16_44k_stereo_4s", "wav", ["-c:a", "pcm_s16le"], 44100, 2, 4.0, True, None),
    ("wav_f32_48k_stereo_1s", "wav", ["-c:a", "pcm_f32le"], 48000, 2, 1.0, True, None),
    ("wav_s16_8k_mono_1s", "wav", ["-c:a", "pcm_s16le"], 8000, 1, 1.0, True, None),
    ("wav_s16_48k_5.1_1s", "wav", ["-c:a", "pcm_s16le"], 48000, 6, 1.0, True, None),
    ("flac_s16_44k_mono_4s", "flac", ["-c:a", "flac", "-sample_fmt", "s16"], 44100, 1, 4.0, True, None),
    ("flac_s24_48k_stereo_4s", "flac", ["-c:a", "flac", "-sample_fmt", "s32"], 48000, 2, 4.0, True, None),
    ("mp3_44k_stereo_4s", "mp3", ["-c:a", "libmp3lame", "-b:a", "128k"], 44100, 2, 4.0, False, None),
    ("mp3_16k_mono_4s", "mp3", ["-c:a", "libmp3lame", "-b:a", "48k"], 16000, 1, 4.0, False, None),
    ("ogg_vorbis_44k_stereo_4s", "ogg", ["-c:a", "libvorbis", "-q:a", "4"], 44100, 2, 4.0, False, None),
    ("ogg_opus_48k_mono_4s", "ogg", ["-c:a", "libopus", "-b:a", "64k"], 48000, 1, 4.0, False, None),
    ("opus_from_16k_stereo_1s", "opus", ["-c:a", "libopus", "-b:a", "32k"], 16000, 2, 1.0, False, None),
    ("m4a_aac_44k_stereo_4s", "m4a", ["-c:a", "aac", "-b:a", "128k"], 44100, 2, 4.0, False, None),
    ("m4a_aac_16k_mono_1s", "m4a", ["-c:a", "aac", "-b:a", "48k"], 16000, 1, 1.0, False, None),
    ("mp4_h264_aac_48k_stereo_4s", "mp4", ["-c:a", "aac", "-b:a", "96k"], 48000, 2, 4.0, False,
     ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"]),
    ("mkv_h264_vorbis_44k_mono_4s", "mkv", ["-c:a", "libvorbis"], 44100, 1, 4.0, False,
     ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"]),
    ("webm_vp8_opus_48k_stereo_4s", "webm", ["-c:a", "libopus", "-b:a", "64k"], 48000, 2, 4.0, False,
     ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k"]),
    ("wav_s16_16k_mono_45s", "wav", ["-c:a", "pcm_s16le"], 16000, 1, 45.0, True, None),
    ("flac_s16_44k_stereo_45s", "flac", ["-c:a", "flac", "-sample_fmt", "s16"], 44100, 2, 45.0, True, None),
    ("m4a_aac_48k_mono_45s", "m4a", ["-c:a", "aac", "-b:a", "64k"], 48000, 1, 45.0, False, None),
    ("wav_s16_16k_mono_50ms", "wav", ["-c:a", "pcm_s16le"], 16000, 1, 0.05, True, None),
    ("wav_f32_44k_stereo_50ms", "wav", ["-c:a", "pcm_f32le"], 44100, 2, 0.05, True, None),
]


def speech_like(rate, channels, seconds, seed):
    """[frames, channels] float32 in about [-0.8, 0.8]: voiced syllables (gliding harmonic series with
    formant-like weights), fricative noise bursts and pauses; channels differ."""
    rng = np.random.RandomState(seed)
    n = max(1, int(round(rate * seconds)))
    t = np.arange(n) / rate
    out = np.zeros((n, channels))
    for ch in range(channels):
        f0 = 110 + 60 * ch + 30 * np.sin(2 * np.pi * 0.7 * t + ch)  # gliding pitch
        phase = 2 * np.pi * np.cumsum(f0) / rate
        voiced = sum(np.sin(k * phase) / k * (1 + np.cos(k * 0.9 + ch)) for k in range(1, 30) if k * f0.max() < rate / 2)
        syllables = np.clip(np.sin(2 * np.pi * (3.1 + 0.4 * ch) * t + rng.uniform(0, 6)), 0, None) ** 2
        noise = rng.standard_normal(n) * (np.sin(2 * np.pi * 1.3 * t + ch) > 0.8)
        chirp = 0.2 * np.sin(2 * np.pi * (200 * t + 0.5 * (min(rate / 2.2, 7000) - 200) / max(seconds, 1e-3) * t * t))
        signal = 0.25 * voiced * syllables + 0.1 * noise + chirp
        out[:, ch] = signal
    out *= 0.8 / max(1e-9, np.abs(out).max())
    return out.astype(np.float32)


def make_file(directory, name, ext, codec_args, rate, channels, seconds, video_args):
    raw = os.path.join(directory, name + ".f32")
    speech_like(rate, channels, seconds, seed=zlib.crc32(name.encode()) % 1000).tofile(raw)
    path = os.path.join(directory, name + "." + ext)
    cmd = ["ffmpeg", "-y", "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", str(rate), "-ac", str(channels),
           "-i", raw]
    if video_args:
        cmd += ["-f", "lavfi", "-i", f"testsrc=size=64x48:rate=10:duration={seconds}"] + video_args
    cmd += codec_args + ["-ar", str(rate), path]
    subprocess.run(cmd, check=True)
    return path


def run_tool(path, out):
    return subprocess.run([TOOL, path, out], capture_output=True, text=True)


def pyav_mono(path):
    """(float32 mono samples, rate): PyAV frames converted to float32 like libswresample, channels averaged
    in float32 (librosa.to_mono = numpy mean over the channel axis)."""
    scale = {"s16": 2.0 ** -15, "s32": 2.0 ** -31, "u8": 2.0 ** -7}
    parts, rate = [], None
    with av.open(path) as container:
        stream = container.streams.best("audio")
        for frame in container.decode(stream):
            data = frame.to_ndarray()
            fmt = frame.format.name
            channels = len(frame.layout.channels)
            if not frame.format.is_planar:
                data = data.reshape(-1, channels).T
            base = fmt.rstrip("p")
            if base == "u8":
                data = (data.astype(np.float32) - np.float32(128)) * np.float32(scale["u8"])
            elif base in scale:
                data = data.astype(np.float32) * np.float32(scale[base])
            else:
                data = data.astype(np.float32)
            parts.append(data.mean(axis=0, dtype=np.float32) if channels > 1 else data[0])
            rate = frame.sample_rate
    return np.concatenate(parts), rate


class AudioFeaturesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("ffmpeg") is None:
            raise RuntimeError("the ffmpeg command-line tool is needed to make test files (Debian package ffmpeg, "
                               "listed in scripts/deps.txt)")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.extractor = WhisperFeatureExtractor.from_pretrained(REAL_DIR)
        cls.report = []

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        print("\n%-30s %6s %8s %9s %11s %11s %11s %6s" % ("case", "rate", "len_nat", "len_16k", "decode", "resample",
                                                            "features", "T"), file=sys.stderr)
        for row in cls.report:
            print("%-30s %6d %8d %9d %11.3g %11.3g %11.3g %6d" % row, file=sys.stderr)

    def reference_features(self, samples_16k):
        out = self.extractor(samples_16k, sampling_rate=16000, truncation=False, padding="longest",
                             return_attention_mask=True, return_tensors="np")
        return out["input_features"][0], out["attention_mask"][0]

    def test_formats(self):
        for name, ext, codec_args, rate, channels, seconds, lossless, video_args in CASES:
            with self.subTest(name):
                path = make_file(self.tmp.name, name, ext, codec_args, rate, channels, seconds, video_args)
                out = os.path.join(self.tmp.name, name + ".safetensors")
                result = run_tool(path, out)
                self.assertEqual(result.returncode, 0, result.stderr)
                got = load_file(out)
                native, native_rate = got["samples_native"], int(got["native_rate"][0])

                # (1) decoding + mono: PyAV (its own FFmpeg) on the same file.
                ref, ref_rate = pyav_mono(path)
                self.assertEqual(native_rate, ref_rate)
                self.assertEqual(native.shape, ref.shape)
                decode_err = float(np.abs(native - ref).max())
                if lossless:
                    self.assertEqual(decode_err, 0.0)
                else:
                    self.assertLessEqual(decode_err, LOSSY_DECODE_TOL)
                self.assertAlmostEqual(float(got["seconds"][0]), len(native) / native_rate, places=9)

                # (2) resampling of our native-rate mono samples.
                samples_16k = got["samples_16k"]
                if native_rate == 16000:
                    np.testing.assert_array_equal(samples_16k, native)
                ref_16k = soxr.resample(native, native_rate, 16000, quality="HQ")
                self.assertEqual(samples_16k.shape, ref_16k.shape)
                resample_err = float(np.abs(samples_16k - ref_16k).max())
                self.assertLessEqual(resample_err, RESAMPLE_TOL)

                # (3) features of our 16 kHz samples, one audio per call, no truncation.
                features = got["features"]
                ref_features, mask = self.reference_features(samples_16k)
                frames = len(samples_16k) // 160
                self.assertEqual(features.shape, (128, frames))
                self.assertEqual(int(mask.sum()), frames)
                self.assertEqual(ref_features.shape, features.shape)
                feature_err = float(np.abs(features - ref_features).max())
                self.assertLessEqual(feature_err, FEATURE_TOL)
                if seconds > 30:
                    self.assertGreater(frames, 3000)  # not cut at 30 s

                # Audio tokens of T frames: 13 per 100 frames plus ceil(rest / 8).
                tokens = int(got["tokens"][0])
                self.assertEqual(tokens, 13 * (frames // 100) + math.ceil((frames % 100) / 8))
                self.assertEqual(tokens, int(_get_feat_extract_output_lengths(np.array(frames))))

                self.report.append((name, native_rate, len(native), len(samples_16k), decode_err, resample_err,
                                    feature_err, frames))

    def test_too_short(self):
        """Below n_fft/2 + 1 = 201 samples at 16 kHz the reference's reflect padding fails; we raise an Error
        naming the file. 201 samples work (one frame)."""
        for count, ok in [(100, False), (200, False), (201, True), (320, True)]:
            with self.subTest(count=count):
                path = os.path.join(self.tmp.name, f"short_{count}.wav")
                raw = os.path.join(self.tmp.name, f"short_{count}.f32")
                speech_like(16000, 1, count / 16000, seed=count).tofile(raw)
                subprocess.run(["ffmpeg", "-y", "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", "16000",
                                "-ac", "1", "-i", raw, "-c:a", "pcm_f32le", path], check=True)
                out = os.path.join(self.tmp.name, f"short_{count}.safetensors")
                result = run_tool(path, out)
                samples = pyav_mono(path)[0]
                self.assertEqual(len(samples), count)
                if ok:
                    self.assertEqual(result.returncode, 0, result.stderr)
                    ref, _ = self.reference_features(samples)
                    features = load_file(out)["features"]
                    self.assertEqual(features.shape, (128, count // 160))
                    self.assertLessEqual(float(np.abs(features - ref).max()), FEATURE_TOL)
                else:
                    self.assertEqual(result.returncode, 1)
                    self.assertIn(path, result.stderr)
                    self.assertIn("too short", result.stderr)
                    with self.assertRaises(RuntimeError):  # the reference cannot do it either
                        self.reference_features(samples)

    def test_bad_files(self):
        d = self.tmp.name
        missing = os.path.join(d, "missing.wav")
        garbage = os.path.join(d, "garbage.mp3")
        with open(garbage, "wb") as f:
            f.write(np.random.RandomState(0).bytes(5000))
        truncated_header = os.path.join(d, "truncated.wav")
        with open(truncated_header, "wb") as f:
            f.write(b"RIFF\x24\x00\x00\x00WAVEfmt ")
        video_only = os.path.join(d, "video_only.mp4")
        subprocess.run(["ffmpeg", "-y", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc=size=64x48:rate=10:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", video_only],
                       check=True)
        for path, message in [(missing, "no such file"), (garbage, ""), (truncated_header, ""),
                              (video_only, "no audio stream")]:
            with self.subTest(os.path.basename(path)):
                result = run_tool(path, os.path.join(d, "bad.safetensors"))
                self.assertEqual(result.returncode, 1, result.stderr)
                self.assertIn(path, result.stderr)
                self.assertIn(message, result.stderr)


if __name__ == "__main__":
    unittest.main()
