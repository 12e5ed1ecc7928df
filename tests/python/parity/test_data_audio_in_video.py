"""use_audio_in_video through `omnitune data dump` against transformers' Qwen3OmniMoeProcessor run live.

Videos with a sound track are written with PyAV. The reference gets what the seed's pipeline feeds the
processor: the frames the seed's sampling rule picks, decoded by PyAV and pre-resized with NEAREST (odd
count: last frame repeated), the audio track (or the row's paired audio file) decoded by PyAV, averaged
to mono and resampled with soxr HQ to 16 kHz, and the row's rendered text; use_audio_in_video=True, the
effective fps. Token ids, grids, video_second_per_grid and audio lengths must be identical; audio
features within 1e-4, pixel values within 1e-3 on average.
"""
import json
import os
import subprocess
import tempfile
import unittest
import wave

import av
import numpy as np
import soxr
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoProcessor

import test_audio_features as audio_reference
import test_vision_inputs as vision_reference
from common import OMNITUNE
from train_fixture import make_processor_dir

VIDEO = {"video_fps": 2.0, "video_maxlen": 128, "video_min_pixels": 256, "video_max_pixels": 16384}
FEATURE_TOL, PIXEL_MEAN_TOL = 1e-4, 1e-3


def write_video(path, seconds, fps, size, audio_rate, channels, seed):
    """H.264 frames of moving gradients plus an AAC track of a gliding tone with noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    with av.open(path, "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=audio_rate)
        audio.layout = "stereo" if channels == 2 else "mono"
        y, x = np.mgrid[0:height, 0:width]
        for i in range(int(seconds * fps)):
            frame = np.stack([(x * 2 + 9 * i) % 256, (y * 3 + 5 * i) % 256, (x + y + 17 * i) % 256], -1).astype(np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        t = np.arange(int(seconds * audio_rate)) / audio_rate
        tone = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.5 * t)) + 0.03 * rng.standard_normal(t.size)
        samples = np.stack([tone * (1 - 0.3 * c) for c in range(channels)]).astype(np.float32)
        for k in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, k:k + 1024]), format="fltp", layout=audio.layout.name)
            frame.sample_rate, frame.pts = audio_rate, k
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)


def write_wav(path, seconds, rate):
    t = np.arange(int(seconds * rate)) / rate
    x = 0.25 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 1.5 * t)) / 2
    with wave.open(path, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((x * 32767).astype("<i2").tobytes())


def seed_video_frames(path):
    """The seed's frames: its sampling rule on PyAV's frame count and duration, NEAREST pre-resize, even count."""
    fps, max_frames = VIDEO["video_fps"], VIDEO["video_maxlen"]
    with av.open(path) as container:
        stream = container.streams.video[0]
        total, duration = stream.frames, float(stream.duration * stream.time_base)
        indices, effective_fps = vision_reference.seed_sample(total, duration, fps, max_frames)
        frames = [frame.to_image() for n, frame in enumerate(container.decode(stream)) if n in indices]
    frames = [np.asarray(vision_reference.seed_preresize(f, VIDEO["video_min_pixels"], VIDEO["video_max_pixels"],
                                                         Image.Resampling.NEAREST)) for f in frames]
    if len(frames) % 2:
        frames.append(frames[-1])
    return np.stack(frames), effective_fps


def audio_16k(path):
    samples, rate = audio_reference.pyav_mono(path)
    return soxr.resample(samples, rate, 16000, quality="HQ").astype(np.float32)


class AudioInVideo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        cls.model = make_processor_dir(d)
        write_video(os.path.join(d, "clip.mp4"), 3.0, 10, (160, 120), 44100, 2, 1)
        write_video(os.path.join(d, "odd.mp4"), 2.5, 8, (96, 72), 16000, 1, 2)
        write_wav(os.path.join(d, "paired.wav"), 2.2, 22050)
        cls.processor = AutoProcessor.from_pretrained(cls.model)
        cls.report = []

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        print("\n".join(["", "use_audio_in_video parity (data dump vs Qwen3OmniMoeProcessor):"] + cls.report))

    def data_json(self, rows):
        with open(os.path.join(self.dir, "rows.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        cfg = {"dataset_param": {"preprocess_parameters": {"model_name_or_path": self.model, "use_audio_in_video": True, **VIDEO},
                                 "basic_parameters": {"dataset": os.path.join(self.dir, "rows.jsonl"), "dataset_dir": self.dir,
                                                      "cutoff_len": 4096},
                                 "attr": {"messages": "messages", "role_tag": "role", "content_tag": "content", "user_tag": "user",
                                          "assistant_tag": "assistant", "videos": "videos", "audios": "audios"}}}
        path = os.path.join(self.dir, "data.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def dump(self, data, index):
        out = os.path.join(self.dir, f"dump{index}.safetensors")
        r = subprocess.run([OMNITUNE, "data", "dump", "--mm-data", data, "--index", str(index), "--out", out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with safe_open(out, "pt") as f:
            meta = f.metadata()
        return load_file(out), meta

    def compare(self, label, ours, meta, videos, audios):
        self.assertEqual(meta["use_audio_in_video"], "true")
        frames, fps = zip(*(seed_video_frames(os.path.join(self.dir, v)) for v in videos))
        self.assertEqual(len(set(fps)), 1, f"{label}: the processor takes one fps for all videos")
        text = meta["text"].replace("<video>", "<|vision_start|><|video_pad|><|vision_end|>").replace("<audio>", "")
        ref = self.processor(text=[text], videos=list(frames), audio=[audio_16k(os.path.join(self.dir, a)) for a in audios],
                             return_tensors="pt",
                             videos_kwargs={"use_audio_in_video": True, "fps": fps[0], "do_sample_frames": False,
                                            "size": {"shortest_edge": vision_reference.PROCESSOR_MIN_PIXELS,
                                                     "longest_edge": vision_reference.PROCESSOR_MAX_PIXELS},
                                            "position_id_per_seconds": 13})
        self.assertEqual(ours["input_ids"][0].tolist(), ref["input_ids"][0].tolist(), label)
        self.assertTrue(torch.equal(ours["video_grid_thw"], ref["video_grid_thw"]), label)
        self.assertTrue(torch.equal(ours["video_second_per_grid"], torch.as_tensor(ref["video_second_per_grid"]).to(torch.float32)), label)
        lengths = ours["feature_attention_mask"].sum(1)
        self.assertEqual(lengths.tolist(), ref["feature_attention_mask"].sum(1).tolist(), label)
        feature_delta = max((ours["input_features"][i, :, :n] - ref["input_features"][i, :, :n]).abs().max().item()
                            for i, n in enumerate(lengths.tolist()))
        self.assertLessEqual(feature_delta, FEATURE_TOL, label)
        self.assertEqual(ours["pixel_values_videos"].shape, ref["pixel_values_videos"].shape, label)
        pixel = (ours["pixel_values_videos"] - ref["pixel_values_videos"]).abs()
        self.assertLessEqual(pixel.mean().item(), PIXEL_MEAN_TOL, label)
        counts = {name: (ours["input_ids"][0] == self.processor.tokenizer.convert_tokens_to_ids(token)).sum().item()
                  for name, token in (("video", "<|video_pad|>"), ("audio", "<|audio_pad|>"))}
        self.report.append(f"  {label}: {ours['input_ids'].shape[1]} tokens ({counts['video']} video, {counts['audio']} audio) identical; "
                           f"grids {ours['video_grid_thw'].tolist()}, s/grid {[round(x, 6) for x in ours['video_second_per_grid'].tolist()]}; "
                           f"features max|d| {feature_delta:.1e}; pixels mean|d| {pixel.mean().item():.1e} max|d| {pixel.max().item():.1e}")

    def test_video_sound_track_and_paired_audio(self):
        rows = [
            {"messages": [{"role": "user", "content": "<video>What happens?"}, {"role": "assistant", "content": "Colours move."}],
             "videos": ["clip.mp4"]},
            {"messages": [{"role": "user", "content": "First <video> then <video>: same?"}, {"role": "assistant", "content": "No."}],
             "videos": ["odd.mp4", "clip.mp4"]},
            {"messages": [{"role": "user", "content": "<video><audio>Describe."}, {"role": "assistant", "content": "A tone."}],
             "videos": ["clip.mp4"], "audios": ["paired.wav"]},
        ]
        data = self.data_json(rows)
        cases = [("own track, stereo 44.1 kHz AAC", ["clip.mp4"], ["clip.mp4"]),
                 ("two videos, own tracks (mono 16 kHz, stereo 44.1 kHz)", ["odd.mp4", "clip.mp4"], ["odd.mp4", "clip.mp4"]),
                 ("paired audio file (22.05 kHz WAV) instead of the track", ["clip.mp4"], ["paired.wav"])]
        for index, (label, videos, audios) in enumerate(cases):
            with self.subTest(case=label):
                ours, meta = self.dump(data, index)
                self.compare(label, ours, meta, videos, audios)


if __name__ == "__main__":
    unittest.main()
