"""keep_towers_active (dataloader_param): micro-batches without an image/video or without audio get the
seed's fake media (a 64x64 white image, 0.1 s of silence) appended with attention_mask 0 and labels
-100. Batches come from `omnitune data dump --index i j` (the loader's collate); the same rows with and
without fake media must give the same loss (1e-6 relative) and the same logits on real tokens, both in
transformers' thinker (run live, where the towers' parameters get gradient tensors only with the fake
media) and through `omnitune forward`."""
import json
import os
import subprocess
import tempfile
import unittest
import wave

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import Qwen3OmniMoeForConditionalGeneration
from common import OMNITUNE, omnitune
from train_fixture import make_model

LOSS_RTOL = 1e-6
BATCHES = {"text only": [0, 1], "image, no audio": [2, 0], "audio, no image": [3, 1]}


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-30)


class KeepTowersActive(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        cls.model = make_model(d, seed=4)
        rng = np.random.default_rng(2)
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(os.path.join(d, "a.png"))
        with wave.open(os.path.join(d, "s.wav"), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
            t = np.arange(24000) / 16000
            w.writeframes((0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype("<i2").tobytes())
        rows = [{"messages": [{"role": "user", "content": "Hello, how are you today?"}, {"role": "assistant", "content": "Fine, thanks."}]},
                {"messages": [{"role": "user", "content": "Name three colours."}, {"role": "assistant", "content": "Red, green and blue."}]},
                {"messages": [{"role": "user", "content": "<image>What is it?"}, {"role": "assistant", "content": "Noise."}], "images": ["a.png"]},
                {"messages": [{"role": "user", "content": "<audio>What is it?"}, {"role": "assistant", "content": "A tone."}], "audios": ["s.wav"]}]
        with open(os.path.join(d, "rows.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        cls.data = {keep: cls.data_json(keep) for keep in (False, True)}
        cls.thinker = Qwen3OmniMoeForConditionalGeneration.from_pretrained(cls.model, dtype=torch.float32).thinker

    @classmethod
    def data_json(cls, keep):
        cfg = {"dataset_param": {"preprocess_parameters": {"model_name_or_path": cls.model, "image_max_pixels": 16384},
                                 "basic_parameters": {"dataset": os.path.join(cls.dir, "rows.jsonl"), "dataset_dir": cls.dir},
                                 "attr": {"messages": "messages", "role_tag": "role", "content_tag": "content", "user_tag": "user",
                                          "assistant_tag": "assistant", "images": "images", "audios": "audios"}},
               "dataloader_param": {"keep_towers_active": keep}}
        path = os.path.join(cls.dir, f"data_{keep}.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def dump(self, keep, indices):
        out = os.path.join(self.dir, f"batch_{keep}_{'_'.join(map(str, indices))}.safetensors")
        omnitune("data", "dump", "--mm-data", self.data[keep], "--index", *map(str, indices), "--out", out)
        return out, load_file(out)

    def reference(self, batch):
        """transformers' thinker: loss, logits of the real tokens, and which towers got gradient tensors."""
        self.thinker.zero_grad(set_to_none=True)
        out = self.thinker(**batch)
        out.loss.backward()
        got = {tower: all(p.grad is not None for p in getattr(self.thinker, tower).parameters()) for tower in ("visual", "audio_tower")}
        zero = {tower: all(p.grad is None or not p.grad.any() for p in getattr(self.thinker, tower).parameters())
                for tower in ("visual", "audio_tower")}
        return out.loss.item(), out.logits.detach()[batch["attention_mask"].bool()], got, zero

    def check_batch(self, name, indices):
        (_, plain), (_, towers) = self.dump(False, indices), self.dump(True, indices)
        real_plain, real_towers = plain["attention_mask"].bool(), towers["attention_mask"].bool()
        # Data: the real tokens are untouched; every added token is masked and untrained.
        self.assertTrue(torch.equal(plain["input_ids"][real_plain], towers["input_ids"][real_towers]), name)
        self.assertTrue(torch.equal(plain["labels"][real_plain], towers["labels"][real_towers]), name)
        self.assertTrue((towers["labels"][~real_towers] == -100).all(), name)
        self.assertIn("pixel_values", towers, name)
        self.assertIn("input_features", towers, name)
        lp, logits_p, grads_p, _ = self.reference(plain)
        lt, logits_t, grads_t, zero_t = self.reference(towers)
        self.assertLessEqual(rel(lt, lp), LOSS_RTOL, name)
        self.assertLessEqual((logits_t - logits_p).abs().max().item(), 1e-5, name)
        fake = {"visual": "pixel_values" not in plain, "audio_tower": "input_features" not in plain}
        self.assertEqual(grads_t, {"visual": True, "audio_tower": True}, name)  # both towers ran and joined the backward
        self.assertEqual(zero_t, fake, name)  # ... and the fake media changed no gradient
        self.assertEqual(grads_p, {"visual": "pixel_values" in plain, "audio_tower": "input_features" in plain}, name)
        return lp, lt

    def test_reference_loss_and_logits_unchanged(self):
        for name, indices in BATCHES.items():
            with self.subTest(batch=name):
                lp, lt = self.check_batch(name, indices)
                print(f"\n{name}: transformers loss {lp:.7f} without, {lt:.7f} with fake media (rel {rel(lt, lp):.1e})", flush=True)

    def test_omnitune_forward_unchanged(self):
        for name, indices in BATCHES.items():
            with self.subTest(batch=name):
                outs, outs_path = {}, {}
                for keep in (False, True):
                    path, batch = self.dump(keep, indices)
                    out = path.replace(".safetensors", ".out.safetensors")
                    r = subprocess.run([OMNITUNE, "forward", "--model", self.model, "--batch", path, "--out", out, "--grads"],
                                       capture_output=True, text=True)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    outs[keep], outs_path[keep] = (load_file(out), batch["attention_mask"].bool()), path
                (plain, real_p), (towers, real_t) = outs[False], outs[True]
                lp, lt = plain["loss"].item(), towers["loss"].item()
                self.assertLessEqual(rel(lt, lp), LOSS_RTOL, name)
                diff = (towers["logits"][real_t] - plain["logits"][real_p]).abs().max().item()
                self.assertLessEqual(diff, 1e-5, name)
                ref_loss, _, _, _ = self.reference(load_file(path))
                self.assertLessEqual(rel(lt, ref_loss), 1e-5, name)
                for tower, key in (("thinker.visual.", "pixel_values"), ("thinker.audio_tower.", "input_features")):
                    if key not in load_file(outs_path[False]):  # a fake-only tower: its gradients are all zero
                        grads = [v for k, v in towers.items() if k.startswith("grad." + tower)]
                        self.assertTrue(grads and all(not g.any() for g in grads), f"{name}: {tower}")
                print(f"\n{name}: omnitune loss {lp:.7f} without, {lt:.7f} with fake media (rel {rel(lt, lp):.1e}), "
                      f"real-token logits max|d| {diff:.1e}", flush=True)


if __name__ == "__main__":
    unittest.main()
