"""The C++ audio encoder (AuT, `thinker.audio_tower`) against transformers' Qwen3OmniMoeAudioEncoder:
same output and same gradients (input features and every parameter) for random fp32 weights, batches of
audios of different lengths and every CPU attention backend."""
import os
import subprocess
import sys
import tempfile
import unittest

import torch
from safetensors.torch import load_file, save_file
from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import Qwen3OmniMoeAudioEncoder

from tiny_models import tiny_config

TOOL = os.path.join(os.environ["OMNITUNE_TOOLS_DIR"], "audio_encoder_tool")
PREFIX = "thinker.audio_tower."
# (C++ attn_implementation, attn_layout, transformers attn_implementation of the reference).
BACKENDS = [("eager", "BNSD", "eager"), ("sdpa", "BNSD", "sdpa"), ("sdpa", "TND", "sdpa")]
# Mel frames per audio of each batch: longer than one attention window, crossing chunk boundaries,
# shorter than one chunk, exact multiples of a chunk, single audios, and a batch of short audios only.
BATCHES = [[370, 100, 57, 1000], [370], [57], [1000], [200, 100], [57, 13, 1]]
OUT_TOL, GRAD_TOL = 1e-5, 1e-4


def wide_config():
    """The tiny config with a different audio tower shape (more heads, layers, 80 mel bins, wider windows)."""
    config = tiny_config()
    audio = config.thinker_config.audio_config
    audio.d_model, audio.encoder_attention_heads, audio.encoder_layers = 48, 3, 3
    audio.encoder_ffn_dim, audio.downsample_hidden_size, audio.num_mel_bins = 96, 12, 80
    audio.n_window_infer = 400
    audio.output_dim = config.thinker_config.text_config.hidden_size
    return config


def reference_encoder(config, attn_implementation, seed=0):
    """transformers' encoder with every parameter (norms and biases too) random."""
    torch.manual_seed(seed)
    model = Qwen3OmniMoeAudioEncoder._from_config(config.thinker_config.audio_config,
                                                  attn_implementation=attn_implementation).float().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name == "ln_post.weight":
                p.normal_(1.0, 0.2)
            elif p.dim() > 1:
                p.normal_(0.0, (p[0].numel()) ** -0.5)
            else:
                p.normal_(0.0, 0.05)
    return model


def random_inputs(lens, mel, seed=1):
    """Features [Na, mel, Tmax] (junk in the padding too), feature_lens [Na], feature_attention_mask [Na, Tmax]."""
    g = torch.Generator().manual_seed(seed)
    lens_t = torch.tensor(lens, dtype=torch.long)
    features = torch.randn(len(lens), mel, max(lens), generator=g)
    mask = (torch.arange(max(lens)).unsqueeze(0) < lens_t.unsqueeze(1)).long()
    return features, lens_t, mask


def reference_forward(model, features, lens, mask):
    """Forward as the thinker calls it (valid frames gathered with the mask), with the input as a leaf."""
    features = features.clone().requires_grad_(True)
    packed = features.permute(0, 2, 1)[mask.bool()].permute(1, 0)  # [mel, sum(lens)]
    return features, model(packed, feature_lens=lens).last_hidden_state


def run_tool(*args):
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True)


def rel(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


class AudioEncoderParity(unittest.TestCase):
    def check(self, config, lens, backends=BACKENDS):
        mel = config.thinker_config.audio_config.num_mel_bins
        features, lens_t, mask = random_inputs(lens, mel)
        with tempfile.TemporaryDirectory() as d:
            config.save_pretrained(d)
            weights = os.path.join(d, "weights.safetensors")
            inputs = os.path.join(d, "inputs.safetensors")
            out_path = os.path.join(d, "out.safetensors")
            reference = {}
            for hf_impl in sorted({b[2] for b in backends}):
                model = reference_encoder(config, hf_impl)
                leaf, out = reference_forward(model, features, lens_t, mask)
                d_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
                (out * d_out).sum().backward()
                grads = {n: p.grad for n, p in model.named_parameters()}
                reference[hf_impl] = (out.detach(), leaf.grad, grads, d_out)
                # Both reference implementations see the same weights (same seed) and inputs.
                save_file({PREFIX + n: p.detach().contiguous() for n, p in model.named_parameters()}, weights)
            save_file({"input_features": features, "feature_lens": lens_t, "d_out": d_out}, inputs)

            for impl, layout, hf_impl in backends:
                with self.subTest(lens=lens, impl=impl, layout=layout):
                    r = run_tool(os.path.join(d, "config.json"), weights, inputs, out_path, impl, layout)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    got = load_file(out_path)
                    ref_out, ref_dx, ref_grads, _ = reference[hf_impl]
                    self.compare(got, ref_out, ref_dx, ref_grads, f"{lens} {impl}/{layout}")

    def compare(self, got, ref_out, ref_dx, ref_grads, label):
        self.assertEqual(got["out"].shape, ref_out.shape)
        out_err = rel(got["out"], ref_out)
        self.assertLessEqual(out_err, OUT_TOL, f"{label}: output")
        self.assertEqual(set(got) - {"out", "grad.input_features"}, {"grad." + n for n in ref_grads})
        total = torch.cat([g.flatten() for g in ref_grads.values()]).norm()
        worst = 0.0
        for name, g in ref_grads.items():
            delta = (got["grad." + name] - g).norm()
            bound = GRAD_TOL * (g.norm() + 1e-3 * total)
            self.assertLessEqual(delta.item(), bound.item(), f"{label}: grad of {name}")
            worst = max(worst, (delta / (g.norm() + 1e-3 * total)).item())
        dx_err = rel(got["grad.input_features"], ref_dx)
        self.assertLessEqual(dx_err, GRAD_TOL, f"{label}: grad of input_features")
        print(f"{label}: out {out_err:.2e}, grad input {dx_err:.2e}, worst param grad |dg|/(|g|+1e-3|G|) {worst:.2e}", file=sys.stderr)

    def test_tiny_config(self):
        for lens in BATCHES:
            self.check(tiny_config(), lens)

    def test_wide_config(self):
        for lens in ([1000, 57, 370], [250], [401, 800]):
            self.check(wide_config(), lens)

    def test_reference_honours_windows(self):
        """Changing the last chunk of a 1000-frame audio changes only the tokens of its attention window
        (windows of 26 tokens in the tiny config), so the reference really attends within windows."""
        config = tiny_config()
        features, lens, mask = random_inputs([1000], 128)
        changed = features.clone()
        changed[:, :, 900:] += 1.0
        for hf_impl in ("eager", "sdpa"):
            model = reference_encoder(config, hf_impl)
            with torch.no_grad():
                a = reference_forward(model, features, lens, mask)[1]
                b = reference_forward(model, changed, lens, mask)[1]
            self.assertEqual(a.shape[0], 130)
            self.assertTrue(torch.equal(a[:104], b[:104]), hf_impl)
            self.assertGreater((a[104:] - b[104:]).abs().min().item(), 0.0, hf_impl)


class AudioEncoderBadInput(unittest.TestCase):
    def run_bad(self, features, lens):
        config = tiny_config()
        model = reference_encoder(config, "eager")
        with tempfile.TemporaryDirectory() as d:
            config.save_pretrained(d)
            weights = os.path.join(d, "weights.safetensors")
            inputs = os.path.join(d, "inputs.safetensors")
            save_file({PREFIX + n: p.detach().contiguous() for n, p in model.named_parameters()}, weights)
            save_file({"input_features": features, "feature_lens": torch.tensor(lens, dtype=torch.long),
                       "d_out": torch.zeros(1, 64)}, inputs)
            r = run_tool(os.path.join(d, "config.json"), weights, inputs, os.path.join(d, "out.safetensors"))
        self.assertNotEqual(r.returncode, 0)
        return r.stderr

    def test_length_beyond_frames(self):
        err = self.run_bad(torch.randn(2, 128, 300), [300, 301])
        self.assertIn("feature_lens[1] = 301 is outside 1..300", err)

    def test_zero_length(self):
        err = self.run_bad(torch.randn(2, 128, 300), [300, 0])
        self.assertIn("feature_lens[1] = 0 is outside 1..300", err)

    def test_wrong_mel_bins(self):
        err = self.run_bad(torch.randn(1, 80, 300), [300])
        self.assertIn("num_mel_bins = 128", err)

    def test_length_count_mismatch(self):
        err = self.run_bad(torch.randn(2, 128, 300), [300])
        self.assertIn("feature_lens must be an integer vector of 2 frame counts", err)

    def test_wrong_attention_backend(self):
        r = run_tool("x", "y", "z", "w", "flash", "TND")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown attn_implementation 'flash'", r.stderr)


if __name__ == "__main__":
    unittest.main()
