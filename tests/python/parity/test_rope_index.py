"""get_rope_index (TMRoPE 3-D position ids): OmniTune's rope_index_tool against transformers'
Qwen3-Omni thinker get_rope_index on hand-built token rows laid out exactly as the HF processor lays them
out (text, images, videos, audios, audio-in-video interleaving, padded batches), compared exactly."""
import os
import random
import subprocess
import tempfile
import unittest

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import Qwen3OmniMoeForConditionalGeneration

from tiny_models import TINY_CONFIG, tiny_config

TOOL = os.path.join(os.environ["OMNITUNE_TOOLS_DIR"], "rope_index_tool")
PAD_ID = 151643  # <|endoftext|>, the tokenizer's pad token


def audio_tokens(frames):
    """Audio tokens of `frames` mel frames (13 per full 100-frame chunk plus the conv of the rest)."""
    rest = frames % 100
    return ((((rest - 1) // 2 + 1) - 1) // 2 + 1 - 1) // 2 + 1 + (frames // 100) * 13


class Row:
    """One sequence built segment by segment; collects the grids / audio lengths it consumes."""

    def __init__(self, ids):
        self.ids, self.tokens = ids, []
        self.images, self.videos, self.seconds, self.audios = [], [], [], []

    def text(self, n, seed=0):
        rng = random.Random(seed * 7919 + n)
        self.tokens += [rng.randrange(100, 150000) for _ in range(n)]
        return self

    def image(self, t, h, w):
        self.images.append([t, h, w])
        self.tokens += [self.ids.vision_start] + [self.ids.image] * (t * h * w // 4) + [self.ids.vision_end]
        return self

    def video(self, t, h, w, seconds):
        self.videos.append([t, h, w])
        self.seconds.append(seconds)
        self.tokens += [self.ids.vision_start] + [self.ids.video] * (t * h * w // 4) + [self.ids.vision_end]
        return self

    def audio(self, frames):
        self.audios.append(frames)
        self.tokens += [self.ids.audio_start] + [self.ids.audio] * audio_tokens(frames) + [self.ids.audio_end]
        return self

    def audio_in_video(self, t, h, w, seconds, frames):
        """The processor's layout: video pads (value t*seconds*pps) and audio pads (value k) merged, video first on ties."""
        self.videos.append([t, h, w])
        self.seconds.append(seconds)
        self.audios.append(frames)
        audio_idx = np.arange(audio_tokens(frames))
        video_idx = np.broadcast_to(np.arange(t).reshape(-1, 1, 1), (t, h // 2, w // 2)).reshape(-1)
        video_idx = video_idx * seconds * self.ids.pps
        out, v, a = [], 0, 0
        while v < len(video_idx) and a < len(audio_idx):
            if video_idx[v] <= audio_idx[a]:
                out.append(self.ids.video)
                v += 1
            else:
                out.append(self.ids.audio)
                a += 1
        out += [self.ids.video] * (len(video_idx) - v) + [self.ids.audio] * (len(audio_idx) - a)
        self.tokens += [self.ids.vision_start, self.ids.audio_start] + out + [self.ids.audio_end, self.ids.vision_end]
        return self


class Ids:
    def __init__(self, thinker_config):
        c = thinker_config
        self.image, self.video, self.audio = c.image_token_id, c.video_token_id, c.audio_token_id
        self.vision_start, self.vision_end = c.vision_start_token_id, c.vision_end_token_id
        self.audio_start, self.audio_end = c.audio_start_token_id, c.audio_end_token_id
        self.pps = c.position_id_per_seconds


def batch_of(rows, padding="right", use_audio_in_video=False, seconds_dtype=torch.float32):
    """Inputs of get_rope_index for `rows` padded to one length; grids etc. in row order (None when absent)."""
    length = max(len(r.tokens) for r in rows)
    ids = torch.full((len(rows), length), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r.tokens)
        cols = slice(0, n) if padding == "right" else slice(length - n, length)
        ids[i, cols] = torch.tensor(r.tokens)
        mask[i, cols] = 1
    images = [g for r in rows for g in r.images]
    videos = [g for r in rows for g in r.videos]
    seconds = [s for r in rows for s in r.seconds]
    audios = [a for r in rows for a in r.audios]
    return dict(
        input_ids=ids, attention_mask=mask,
        image_grid_thw=torch.tensor(images, dtype=torch.long) if images else None,
        video_grid_thw=torch.tensor(videos, dtype=torch.long) if videos else None,
        video_second_per_grid=torch.tensor(seconds, dtype=seconds_dtype) if seconds else None,
        audio_seqlens=torch.tensor(audios, dtype=torch.long) if audios else None,
        use_audio_in_video=use_audio_in_video)


class RopeIndex(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cfg = tiny_config()
        cls.thinker = Qwen3OmniMoeForConditionalGeneration(cls.cfg).thinker
        cls.ids = Ids(cls.cfg.thinker_config)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.count = 0

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def row(self):
        return Row(self.ids)

    def reference(self, b):
        mask = b["attention_mask"] if b["attention_mask"] is not None else torch.ones_like(b["input_ids"])
        return self.thinker.get_rope_index(
            b["input_ids"], b["image_grid_thw"], b["video_grid_thw"], mask, b["use_audio_in_video"], b["audio_seqlens"],
            b["video_second_per_grid"])[0]

    def run_tool(self, b):
        RopeIndex.count += 1
        inp = os.path.join(self.tmp.name, f"in{self.count}.safetensors")
        out = os.path.join(self.tmp.name, f"out{self.count}.safetensors")
        tensors = {k: v.contiguous() for k, v in b.items() if isinstance(v, torch.Tensor)}
        save_file(tensors, inp, metadata={"use_audio_in_video": "true" if b["use_audio_in_video"] else "false"})
        r = subprocess.run([TOOL, TINY_CONFIG, inp, out], capture_output=True, text=True)
        return r, (load_file(out)["position_ids"] if r.returncode == 0 else None)

    def check(self, b):
        expected = self.reference(b)
        r, got = self.run_tool(b)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(got.dtype, expected.dtype)
        self.assertEqual(got.shape, expected.shape)
        if not torch.equal(got, expected):
            diff = (got != expected).nonzero()[:5].tolist()
            self.fail(f"position ids differ at {diff}: got {[got[tuple(d)].item() for d in diff]}, "
                      f"expected {[expected[tuple(d)].item() for d in diff]}")
        return expected

    def check_rows(self, rows, **kw):
        return self.check(batch_of(rows, **kw))

    def fails(self, b, *needles):
        r, _ = self.run_tool(b)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(r.stderr.startswith("error: "), r.stderr)
        for n in needles:
            self.assertIn(n, r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)  # one clean line, no crash output

    # ---- text only (the cumsum fallback) ----

    def test_text_only(self):
        self.check_rows([self.row().text(9)])
        b = batch_of([self.row().text(9)])
        b["attention_mask"] = None  # no mask = all real tokens
        self.check(b)

    def test_text_only_padded(self):
        rows = [self.row().text(5, 1), self.row().text(12, 2), self.row().text(1, 3)]
        self.check_rows(rows, padding="right")
        self.check_rows(rows, padding="left")

    def test_audio_only_uses_fallback(self):
        self.check_rows([self.row().text(3).audio(370).text(2).audio(1000).text(4)])

    # ---- images ----

    def test_one_image(self):
        self.check_rows([self.row().text(3).image(1, 4, 4).text(1)])

    def test_two_images_different_grids(self):
        self.check_rows([self.row().text(4).image(1, 4, 6).text(2, 1).image(1, 8, 2).text(3, 2)])

    def test_image_first_and_last(self):
        self.check_rows([self.row().image(1, 2, 2).image(2, 6, 4)])

    def test_image_without_mask(self):
        b = batch_of([self.row().text(2).image(1, 6, 6).text(5)])
        b["attention_mask"] = None
        self.check(b)

    # ---- videos ----

    def test_video_one_second_per_grid(self):
        self.check_rows([self.row().text(3).video(3, 4, 4, 1.0).text(2)])

    def test_video_fractional_seconds(self):
        expected = self.check_rows([self.row().text(3).video(4, 4, 6, 0.8).text(3)])
        self.assertFalse(torch.equal(expected, expected.round()))  # fractional ids really occur
        self.check_rows([self.row().video(5, 2, 2, 0.8).text(2).video(3, 4, 2, 1.3333334).text(2)])
        self.check_rows([self.row().text(1).video(7, 2, 4, 0.1).text(1)], seconds_dtype=torch.float64)

    def test_video_default_two_seconds(self):
        self.check_rows([self.row().text(2).video(2, 4, 4, 2.0).image(1, 2, 4).text(2)])

    # ---- audio in the full algorithm ----

    def test_audios_with_image(self):
        for frames in (1, 99, 100, 101, 370, 1000, 1234):
            self.check_rows([self.row().text(2).audio(frames).text(1).image(1, 4, 4).text(2)])

    def test_mixed_row(self):
        row = (self.row().text(5).image(1, 4, 4).text(2, 1).audio(370).text(3, 2).video(3, 4, 4, 0.8).text(2, 3)
               .audio(1000).video(2, 2, 6, 1.0).image(2, 2, 2).text(4, 4))
        self.check_rows([row])

    # ---- batches ----

    def batch_rows(self):
        return [self.row().text(3).image(1, 4, 4).text(2).audio(370).text(1),
                self.row().text(1),
                self.row().text(2).video(2, 4, 4, 0.8).audio(150).image(1, 2, 6).text(6)]

    def test_batch_right_padding(self):
        self.check_rows(self.batch_rows(), padding="right")

    def test_batch_left_padding(self):
        self.check_rows(self.batch_rows(), padding="left")

    def test_batch_tool_matches_without_padding(self):
        rows = [self.row().text(2).image(1, 4, 4).text(2), self.row().text(1).image(1, 4, 4).text(3)]
        self.check_rows(rows)

    # ---- use_audio_in_video ----

    def test_audio_in_video_one(self):
        self.check_rows([self.row().text(3).audio_in_video(3, 4, 4, 1.0, 370).text(2)], use_audio_in_video=True)
        self.check_rows([self.row().text(3).audio_in_video(4, 4, 6, 0.8, 250).text(2)], use_audio_in_video=True)

    def test_audio_in_video_two(self):
        row = self.row().text(2).audio_in_video(2, 4, 4, 2.0, 400).text(3).audio_in_video(5, 2, 4, 0.8, 1000).text(1)
        self.check_rows([row], use_audio_in_video=True)

    def test_audio_in_video_with_image_and_audio(self):
        rows = [self.row().text(2).image(1, 4, 4).audio_in_video(3, 4, 4, 1.0, 300).audio(120).text(2),
                self.row().audio(250).text(1).audio_in_video(2, 2, 2, 0.5, 90).text(3)]
        self.check_rows(rows, use_audio_in_video=True, padding="left")
        self.check_rows(rows, use_audio_in_video=True, padding="right")

    def test_audio_in_video_short_audio_long_video(self):
        self.check_rows([self.row().text(1).audio_in_video(6, 4, 4, 1.0, 10).text(1)], use_audio_in_video=True)

    # ---- random layouts ----

    def test_random_batches(self):
        rng = random.Random(1234)
        for case in range(40):
            aiv = rng.random() < 0.4
            rows = []
            for _ in range(rng.randint(1, 3)):
                row = self.row()
                for _ in range(rng.randint(0, 5)):
                    kind = rng.choice(["text", "image", "video", "audio"])
                    t, h, w = rng.randint(1, 4), rng.choice([2, 4, 6]), rng.choice([2, 4, 8])
                    seconds = rng.choice([0.1, 0.5, 0.8, 1.0, 1.3333334, 2.0])
                    if kind == "text":
                        row.text(rng.randint(1, 6), case)
                    elif kind == "image":
                        row.image(1 if rng.random() < 0.7 else t, h, w)
                    elif kind == "video" and aiv:
                        row.audio_in_video(t, h, w, seconds, rng.randint(1, 500))
                    elif kind == "video":
                        row.video(t, h, w, seconds)
                    else:
                        row.audio(rng.randint(1, 1300))
                if not row.tokens:
                    row.text(2, case)
                rows.append(row)
            with self.subTest(case=case):
                self.check_rows(rows, padding=rng.choice(["left", "right"]), use_audio_in_video=aiv)

    # ---- bad input ----

    def test_more_images_than_grids(self):
        b = batch_of([self.row().text(1), self.row().text(2).image(1, 4, 4).image(1, 4, 4).text(1)])
        b["image_grid_thw"] = b["image_grid_thw"][:1]
        self.fails(b, "batch row 1", "image 1", "image_grid_thw has 1 rows")

    def test_grid_does_not_match_pads(self):
        b = batch_of([self.row().text(2).image(1, 4, 4).text(1)])
        b["image_grid_thw"] = torch.tensor([[1, 4, 6]])
        self.fails(b, "batch row 0", "image 0", "[1, 4, 6]")
        b["image_grid_thw"] = torch.tensor([[1, 2, 2]])
        self.fails(b, "batch row 0", "expected <|vision_end|>")

    def test_audio_length_does_not_match_pads(self):
        b = batch_of([self.row().image(1, 2, 2).audio(370)])
        b["audio_seqlens"] = torch.tensor([1000])
        self.fails(b, "batch row 0", "audio 0")

    def test_missing_seconds_per_grid(self):
        b = batch_of([self.row().video(2, 2, 2, 1.0)])
        b["video_second_per_grid"] = None
        self.fails(b, "batch row 0", "video_second_per_grid is not given")

    def test_unused_grid(self):
        b = batch_of([self.row().text(2).image(1, 2, 2)])
        b["image_grid_thw"] = torch.tensor([[1, 2, 2], [1, 4, 4]])
        self.fails(b, "image_grid_thw has 2 entries")

    def test_masked_trailing_media_like_the_reference(self):
        """keep_towers_active: a masked-out image and audio after the real tokens; their grid and length go unused."""
        real = len(self.row().text(3).tokens)
        b = batch_of([self.row().text(3).image(1, 4, 4).audio(50), self.row().text(5)])
        b["attention_mask"][0, real:] = 0
        self.check(b)

    def test_masked_media_before_real_media(self):
        real = len(self.row().text(3).tokens)
        b = batch_of([self.row().text(3).image(1, 2, 2), self.row().text(2).image(1, 2, 2)])
        b["attention_mask"][0, real:] = 0
        self.fails(b, "image_grid_thw has 2 entries", "not all after the real ones")

    def test_pads_without_grids(self):
        b = batch_of([self.row().text(2), self.row().video(1, 2, 2, 1.0)])
        b["video_grid_thw"] = None
        self.fails(b, "batch row 1", "video_grid_thw")

    def test_truncated_span(self):
        b = batch_of([self.row().text(2).image(1, 4, 4)])
        b["input_ids"] = b["input_ids"][:, :-3]
        b["attention_mask"] = b["attention_mask"][:, :-3]
        self.fails(b, "batch row 0", "image 0")
        b["input_ids"] = b["input_ids"][:, :3]
        b["attention_mask"] = b["attention_mask"][:, :3]
        self.fails(b, "batch row 0", "last token")


if __name__ == "__main__":
    unittest.main()
