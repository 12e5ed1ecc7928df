"""Loading is strict: a checkpoint with a missing tensor, a wrong shape, a wrong dtype, an unexpected
tensor or a truncated file is an error that names the tensors and the file — never a silently
uninitialised weight."""
import os
import shutil
import subprocess
import tempfile
import unittest

import torch
from safetensors.torch import load_file, save_file

from tiny_models import TINY_CONFIG
from common import OMNITUNE



class CheckpointErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.good = os.path.join(cls.tmp.name, "good")
        subprocess.run([OMNITUNE, "init-model", "--config", os.path.dirname(TINY_CONFIG), "--out", cls.good], check=True,
                       capture_output=True)
        cls.batch = os.path.join(cls.tmp.name, "batch.safetensors")
        save_file({"input_ids": torch.tensor([[1, 2, 3]]), "attention_mask": torch.ones(1, 3, dtype=torch.long)}, cls.batch)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def variant(self, change):
        d = tempfile.mkdtemp(dir=self.tmp.name)
        shutil.copytree(self.good, d, dirs_exist_ok=True)
        tensors = load_file(os.path.join(d, "model.safetensors"))
        change(tensors)
        save_file(tensors, os.path.join(d, "model.safetensors"))
        return d

    def forward(self, model_dir):
        return subprocess.run([OMNITUNE, "forward", "--model", model_dir, "--batch", self.batch, "--out",
                               os.path.join(self.tmp.name, "out.safetensors")], capture_output=True, text=True)

    def test_good_checkpoint_loads(self):
        r = self.forward(self.good)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_missing_tensor(self):
        d = self.variant(lambda t: t.pop("thinker.model.layers.1.self_attn.k_norm.weight"))
        r = self.forward(d)
        self.assertEqual(r.returncode, 1)
        self.assertIn("1 missing tensors:\n    thinker.model.layers.1.self_attn.k_norm.weight", r.stderr)

    def test_missing_expert(self):
        d = self.variant(lambda t: t.pop("thinker.model.layers.2.mlp.experts.3.up_proj.weight"))
        r = self.forward(d)
        self.assertIn("thinker.model.layers.2.mlp.experts.3.up_proj.weight", r.stderr)

    def test_wrong_shape(self):
        def change(t):
            t["thinker.visual.pos_embed.weight"] = torch.zeros(49, 32)
        r = self.forward(self.variant(change))
        self.assertEqual(r.returncode, 1)
        self.assertIn("thinker.visual.pos_embed.weight (checkpoint [49, 32], model expects [64, 32])", r.stderr)

    def test_wrong_dtype(self):
        def change(t):
            t["thinker.model.norm.weight"] = torch.ones(64, dtype=torch.int32)
        r = self.forward(self.variant(change))
        self.assertEqual(r.returncode, 1)
        self.assertIn("thinker.model.norm.weight (Int, expected a floating-point tensor)", r.stderr)

    def test_unexpected_tensor_but_talker_is_fine(self):
        def change(t):
            t["thinker.model.layers.0.mlp.shared_expert.weight"] = torch.zeros(2)
            t["talker.model.norm.weight"] = torch.zeros(2)
        r = self.forward(self.variant(change))
        self.assertEqual(r.returncode, 1)
        self.assertIn("1 unexpected tensors:\n    thinker.model.layers.0.mlp.shared_expert.weight", r.stderr)
        self.assertNotIn("talker", r.stderr)

    def test_bf16_checkpoint_loads(self):
        r = self.forward(self.variant(lambda t: t.update({k: v.to(torch.bfloat16) for k, v in t.items()})))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_truncated_file(self):
        d = tempfile.mkdtemp(dir=self.tmp.name)
        shutil.copytree(self.good, d, dirs_exist_ok=True)
        path = os.path.join(d, "model.safetensors")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        r = self.forward(d)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"model\.safetensors: tensor '.*': data_offsets \[\d+, \d+\] run past the end of the data")

    def test_not_a_checkpoint(self):
        empty = os.path.join(self.tmp.name, "empty")
        os.makedirs(empty)
        r = self.forward(empty)
        self.assertEqual(r.returncode, 1)
        self.assertIn("config.json", r.stderr)


if __name__ == "__main__":
    unittest.main()
