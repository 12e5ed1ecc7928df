"""make_demo_data: every row of the data.json it writes goes through OmniTune's own data pipeline
(`omnitune data preview` / `dump`); its media are what they claim (PNG/JPEG sizes, 44.1 kHz audio,
MP4 with a video and an audio stream, read with PIL, wave and PyAV); the same seed gives the same bytes."""
import json
import os
import re
import subprocess
import tempfile
import unittest
import wave

import av
from PIL import Image
from safetensors import safe_open
from common import OMNITUNE, TOKENIZER_DIR

GENERATOR = os.path.join(os.environ["OMNITUNE_TOOLS_DIR"], os.pardir, "demo", "make_demo_data")
ROWS = 14  # every kind of row twice


def generate(out, seed, rows=ROWS):
    r = subprocess.run([GENERATOR, "--out", out, "--tokenizer", TOKENIZER_DIR, "--rows", str(rows), "--seed", str(seed)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return os.path.join(out, "data.json")


def all_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)


def read_rows(data_json):
    with open(data_json) as f:
        cfg = json.load(f)
    rows = []
    for path in cfg["dataset_param"]["basic_parameters"]["dataset"].split(","):
        with open(path) as f:
            rows += [json.loads(line) for line in f] if path.endswith(".jsonl") else json.load(f)
    return cfg, rows


class DemoData(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls.tmp.name, "a")
        cls.data_json = generate(cls.dir, seed=5)
        cls.cfg, cls.rows = read_rows(cls.data_json)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_config_points_at_the_rows_and_tokenizer(self):
        pre = self.cfg["dataset_param"]["preprocess_parameters"]
        basic = self.cfg["dataset_param"]["basic_parameters"]
        self.assertEqual(os.path.realpath(pre["model_name_or_path"]), os.path.realpath(TOKENIZER_DIR))
        self.assertEqual(os.path.realpath(basic["dataset_dir"]), os.path.realpath(self.dir))
        self.assertEqual(basic["template"], "qwen3_omni")
        self.assertEqual(len(self.rows), ROWS)

    def test_every_kind_of_row(self):
        def has(pred):
            return any(pred(r) for r in self.rows)
        roles = lambda r: [m["role"] for m in r["messages"]]
        self.assertTrue(has(lambda r: r.get("images") and not r.get("audios")))
        self.assertTrue(has(lambda r: r.get("audios") and not r.get("images")))
        self.assertTrue(has(lambda r: r.get("videos")))
        self.assertTrue(has(lambda r: not (r.get("images") or r.get("audios") or r.get("videos") or r.get("tools"))))
        self.assertTrue(has(lambda r: roles(r).count("user") >= 2))
        self.assertTrue(has(lambda r: r.get("tools") and "tool_call" in roles(r) and "tool_response" in roles(r)))
        self.assertTrue(has(lambda r: roles(r)[0] == "system" and r.get("images") and r.get("audios")))
        for r in self.rows:  # tool schemas are JSON objects with a name
            for tool in r.get("tools", []):
                self.assertIn("name", json.loads(tool))

    def test_every_row_previews(self):
        cutoff = self.cfg["dataset_param"]["basic_parameters"]["cutoff_len"]
        for i, row in enumerate(self.rows):
            r = subprocess.run([OMNITUNE, "data", "preview", "--mm-data", self.data_json, "--index", str(i)],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, f"row {i}: {r.stderr}")
            m = re.search(r"== (\d+) tokens, (\d+) trained \(\[\[\.\.\.\]\]\), (\d+) image\(s\), (\d+) video\(s\), (\d+) audio\(s\)",
                          r.stdout)
            self.assertIsNotNone(m, r.stdout)
            tokens, trained, images, videos, audios = map(int, m.groups())
            self.assertLessEqual(tokens, cutoff)
            self.assertGreater(trained, 0)
            n_videos = len(row.get("videos", []))
            self.assertEqual((images, videos, audios), (len(row.get("images", [])), n_videos, len(row.get("audios", [])) + n_videos),
                             f"row {i}")  # use_audio_in_video: each video brings its sound track
            self.assertIn(row["messages"][-1]["content"], r.stdout)  # the answer is in the rendered text
            for grid in re.findall(r"image \d+: grid (\d+)x(\d+)x(\d+)", r.stdout):
                t, h, w = map(int, grid)
                self.assertLessEqual(t * h * w // 4, 64)  # at most 64 tokens per image
            # 44.1 kHz audio resampled to 16 kHz: 100 mel frames per second.
            for audio, frames in zip(row.get("audios", []) + row.get("videos", []), re.findall(r"audio \d+: (\d+) mel frames", r.stdout)):
                with av.open(os.path.join(self.dir, audio)) as container:
                    stream = container.streams.audio[0]
                    seconds = float(stream.duration * stream.time_base)
                self.assertAlmostEqual(int(frames) / 100, seconds, delta=0.05, msg=audio)

    def test_video_row_dumps_with_its_sound_track(self):
        index = next(i for i, r in enumerate(self.rows) if r.get("videos"))
        out = os.path.join(self.tmp.name, "video.safetensors")
        r = subprocess.run([OMNITUNE, "data", "dump", "--mm-data", self.data_json, "--index", str(index), "--out", out],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with safe_open(out, "pt") as f:
            self.assertTrue({"pixel_values_videos", "video_grid_thw", "input_features", "labels"} <= set(f.keys()))
            self.assertEqual(f.metadata()["use_audio_in_video"], "true")

    def test_media_files(self):
        media = os.path.join(self.dir, "media")
        names = sorted(os.listdir(media))
        kinds = {}
        for name in names:
            path = os.path.join(media, name)
            ext = os.path.splitext(name)[1]
            kinds[ext] = kinds.get(ext, 0) + 1
            if ext in (".png", ".jpg"):
                with Image.open(path) as im:
                    self.assertEqual(im.format, "PNG" if ext == ".png" else "JPEG")
                    self.assertTrue(96 <= im.width <= 256 and 64 <= im.height <= 192, (name, im.size))
            elif ext == ".wav":
                with wave.open(path) as w:
                    self.assertEqual((w.getframerate(), w.getnchannels(), w.getsampwidth()), (44100, 1, 2))
                    self.assertTrue(1.0 <= w.getnframes() / 44100 <= 4.0)
            elif ext == ".flac":
                with av.open(path) as c:
                    s = c.streams.audio[0]
                    self.assertEqual((s.codec_context.name, s.sample_rate), ("flac", 44100))
                    self.assertTrue(1.0 <= float(s.duration * s.time_base) <= 4.0)
            elif ext == ".mp4":
                with av.open(path) as c:
                    self.assertEqual(len(c.streams.video), 1)
                    self.assertEqual(len(c.streams.audio), 1)
                    v, a = c.streams.video[0], c.streams.audio[0]
                    self.assertEqual((v.codec_context.name, v.width, v.height), ("mpeg4", 96, 96))
                    self.assertEqual((a.codec_context.name, a.sample_rate), ("aac", 44100))
                    self.assertAlmostEqual(float(v.duration * v.time_base), 2.0, delta=0.01)
                    frames = sum(1 for _ in c.decode(video=0))
                    self.assertEqual(frames, 16)
            else:
                self.fail(f"unexpected media file {name}")
        self.assertTrue(kinds.get(".png") and kinds.get(".jpg") and kinds.get(".wav") and kinds.get(".flac") and kinds.get(".mp4"), kinds)
        # Every media file the rows name exists.
        used = {p for r in self.rows for key in ("images", "audios", "videos") for p in r.get(key, [])}
        for p in used:
            self.assertTrue(os.path.isfile(os.path.join(self.dir, p)), p)

    def test_same_seed_same_bytes(self):
        again = os.path.join(self.tmp.name, "b")
        generate(again, seed=5)
        self.assertEqual(all_files(self.dir), all_files(again))
        for name in all_files(self.dir):
            with open(os.path.join(self.dir, name), "rb") as f1, open(os.path.join(again, name), "rb") as f2:
                first, second = f1.read(), f2.read()
            if name.endswith((".json", ".jsonl")):  # data.json names its own directory
                first = first.replace(os.path.abspath(self.dir).encode(), b"DIR")
                second = second.replace(os.path.abspath(again).encode(), b"DIR")
            self.assertEqual(first, second, name)
        other = os.path.join(self.tmp.name, "c")
        generate(other, seed=6)
        for name in ("media/image_0.png", "media/voice_0.wav", "media/video_0.mp4"):
            with open(os.path.join(self.dir, name), "rb") as f1, open(os.path.join(other, name), "rb") as f2:
                self.assertNotEqual(f1.read(), f2.read(), name)

    def test_bad_tokenizer_dir_is_named(self):
        r = subprocess.run([GENERATOR, "--out", os.path.join(self.tmp.name, "x"), "--tokenizer", self.tmp.name],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("error:", r.stderr)
        self.assertIn(self.tmp.name, r.stderr)


if __name__ == "__main__":
    unittest.main()
