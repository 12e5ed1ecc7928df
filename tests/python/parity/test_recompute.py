"""`omnitune forward --recompute/--offload`: per-layer activation recomputation (and host offload of the layer
inputs) changes no number. With each tower and all of them, on the multimodal batches of the thinker parity
test and with the router aux loss on: loss, aux loss, logits and every gradient equal those of the plain run
(relative difference <= 1e-6; bit-exact expected on the CPU), and the recomputed runs match transformers.
"""
import json
import os
import subprocess
import tempfile
import unittest

import torch
from safetensors.torch import load_file, save_file
from transformers import Qwen3OmniMoeConfig, Qwen3OmniMoeForConditionalGeneration

import test_thinker_parity as parity
from tiny_models import TINY_CONFIG
from common import OMNITUNE, omnitune


ALL_TOWERS = ("--offload", "all")  # recompute + offload everywhere: every batch
PER_TOWER = [  # the batch with all three modalities
    ("--recompute", "audio"),
    ("--recompute", "vision"),
    ("--recompute", "text"),
    ("--recompute", "all"),
    ("--recompute", "audio,text", "--offload", "vision"),
]


def aux_config():
    """The tiny config with the router aux loss on (coefficient 0.5, so it shapes the gradients), a dense
    mlp_only layer between MoE layers (its layer has no router logits) and 3 audio layers."""
    with open(TINY_CONFIG) as f:
        d = json.load(f)
    t = d["thinker_config"]
    t["text_config"].update(output_router_logits=True, router_aux_loss_coef=0.5, mlp_only_layers=[1], intermediate_size=96)
    t["audio_config"].update(encoder_layers=3)
    return d


def max_rel(ours, base):
    """Largest per-tensor relative difference over all tensors of two forward outputs (same names required)."""
    assert sorted(ours) == sorted(base), (sorted(set(ours) ^ set(base)))
    worst = 0.0
    for k, b in base.items():
        if k == "position_ids":
            assert torch.equal(ours[k], b)
            continue
        worst = max(worst, parity.rel(ours[k].double(), b.double()))
    return worst


class RecomputeParity(unittest.TestCase):
    # The parity test's batches and its comparison with transformers (fp32 logits, loss, aux loss, gradients).
    batches = parity.ThinkerParity.batches
    run_both = parity.ThinkerParity.run_both
    check_fp32 = parity.ThinkerParity.check_fp32

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cfg_dir = os.path.join(cls.tmp.name, "aux-config")
        Qwen3OmniMoeConfig(**aux_config()).save_pretrained(cfg_dir)
        init_dir = os.path.join(cls.tmp.name, "aux-init")
        omnitune("init-model", "--config", cfg_dir, "--out", init_dir, "--seed", "9")
        model = Qwen3OmniMoeForConditionalGeneration.from_pretrained(init_dir, dtype=torch.float32)
        gen = torch.Generator().manual_seed(4)
        with torch.no_grad():  # non-trivial norms and biases
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * 0.05)
        model_dir = os.path.join(cls.tmp.name, "aux")
        model.save_pretrained(model_dir)
        cls.models = {"aux": (model_dir, model.config)}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def forward(self, batch_path, *flags):
        out = os.path.join(self.tmp.name, "out.safetensors")
        omnitune("forward", "--model", self.models["aux"][0], "--batch", batch_path, "--out", out, "--grads", *flags)
        return load_file(out)

    def save_batch(self, name, batch):
        path = os.path.join(self.tmp.name, f"{name}.safetensors")
        save_file({k: v for k, v in batch.items() if k != "use_audio_in_video"}, path,
                  metadata={"use_audio_in_video": "true" if batch["use_audio_in_video"] else "false"})
        return path

    def test_equal_to_the_plain_run(self):
        cfg = self.models["aux"][1]
        worst = 0.0
        for name, batch in self.batches(cfg).items():
            path = self.save_batch(name, batch)
            base = self.forward(path)
            self.assertIn("aux_loss", base)
            for flags in [ALL_TOWERS] + (PER_TOWER if name == "mixed_batch" else []):
                with self.subTest(batch=name, flags=flags):
                    diff = max_rel(self.forward(path, *flags), base)
                    worst = max(worst, diff)
                    self.assertLessEqual(diff, 1e-6)
        print(f"recompute/offload vs plain: max relative difference {worst:.2e}", flush=True)

    def test_matches_transformers(self):
        cfg = self.models["aux"][1]
        batches = self.batches(cfg)
        for name, batch in batches.items():
            with self.subTest(batch=name):
                self.check_fp32("aux", name, batch, ALL_TOWERS)
        for extra in (("--recompute", "all", "--moe-impl", "loop"), ("--recompute", "all", "--loss-chunk", "5"),
                      ("--offload", "text", "--attn-layout", "TND")):
            with self.subTest(extra=extra):
                self.check_fp32("aux", "mixed_batch", batches["mixed_batch"], extra)

    def test_bad_tower_names(self):
        batch = self.save_batch("text", self.batches(self.models["aux"][1])["text"])
        for flag, spec, hint in (("--recompute", "txt", " (did you mean 'text'?)"), ("--offload", "audio,", "")):
            with self.subTest(flag=flag, spec=spec):
                r = subprocess.run([OMNITUNE, "forward", "--model", self.models["aux"][0], "--batch", batch, "--out",
                                    os.path.join(self.tmp.name, "bad.safetensors"), flag, spec],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 1, r.stderr)
                name = spec.split(",")[-1]
                self.assertIn(f"error: {flag}: unknown tower '{name}'{hint}", r.stderr)

if __name__ == "__main__":
    unittest.main()
