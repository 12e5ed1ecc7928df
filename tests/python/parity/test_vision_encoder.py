"""The C++ vision encoder (`thinker.visual`) against transformers' Qwen3OmniMoeVisionEncoder: forward outputs
(tokens and deepstack features) and every gradient (pixels and parameters), in fp32, for each attention backend,
on the shipped tiny config and on a second config with other shapes; plus clear errors on bad grids."""
import copy
import json
import os
import subprocess
import tempfile
import unittest

import torch
from safetensors.torch import load_file, save_file
from transformers import Qwen3OmniMoeConfig
from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import Qwen3OmniMoeVisionEncoder

from tiny_models import TINY_CONFIG

TOOL = os.path.join(os.environ.get("OMNITUNE_TOOLS_DIR", "."), "vision_encoder_tool")
BACKENDS = [("eager", "BNSD"), ("sdpa", "BNSD"), ("sdpa", "TND"), ("eager", "BSND")]
OUT_TOL = 1e-5   # ||delta|| / ||ref|| for tokens and each deepstack output
GRAD_TOL = 1e-4  # ||delta g|| <= GRAD_TOL * (||g|| + 1e-3 * ||G||)


def tiny_dict():
    with open(TINY_CONFIG) as f:
        return json.load(f)


def other_shapes_dict():
    """Same model family, other vision shapes: odd head count, 8-pixel patches, a 6x6 position table."""
    d = tiny_dict()
    d["thinker_config"]["vision_config"].update(
        depth=3, hidden_size=48, num_heads=3, intermediate_size=80, deepstack_visual_indexes=[0, 2],
        num_position_embeddings=36, patch_size=8, out_hidden_size=d["thinker_config"]["text_config"]["hidden_size"])
    return d


def randomize(model, seed):
    """Non-trivial values everywhere (the default init leaves biases at 0 and norms at 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            is_norm = any(part in name for part in ("norm1.", "norm2.", "ln_q."))
            p.copy_(1 + 0.1 * noise if is_norm and name.endswith("weight") else 0.05 * noise)


def make_inputs(vcfg, grids, seed):
    g = torch.Generator().manual_seed(seed)
    n = sum(t * h * w for t, h, w in grids)
    patch_dim = vcfg.in_channels * vcfg.temporal_patch_size * vcfg.patch_size ** 2
    merged = n // vcfg.spatial_merge_size ** 2
    inputs = {"pixel_values": torch.randn(n, patch_dim, generator=g),
              "grid_thw": torch.tensor(grids, dtype=torch.int64),
              "d_tokens": torch.randn(merged, vcfg.out_hidden_size, generator=g)}
    for k in range(len(vcfg.deepstack_visual_indexes)):
        inputs[f"d_deepstack.{k}"] = torch.randn(merged, vcfg.out_hidden_size, generator=g)
    return inputs


def reference(model, inputs):
    """transformers' outputs and gradients for the same loss as the tool's."""
    pixels = inputs["pixel_values"].clone().requires_grad_(True)
    out = model(pixels, inputs["grid_thw"])
    deepstack = list(out.deepstack_features)
    loss = (out.pooler_output * inputs["d_tokens"]).sum()
    for k, feature in enumerate(deepstack):
        loss = loss + (feature * inputs[f"d_deepstack.{k}"]).sum()
    names = [n for n, _ in model.named_parameters()]
    grads = torch.autograd.grad(loss, [pixels] + [p for _, p in model.named_parameters()])
    result = {"tokens": out.pooler_output.detach()}
    result.update({f"deepstack.{k}": f.detach() for k, f in enumerate(deepstack)})
    result["grad.pixel_values"] = grads[0]
    result.update({f"grad.{n}": g for n, g in zip(names, grads[1:])})
    return result


def run_tool(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True)


class VisionEncoderParity(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def write_case(self, d, grids, seed):
        """config.json, weights and inputs on disk; returns the randomized reference model and the inputs."""
        with open(self.path("config.json"), "w") as f:
            json.dump(d, f)
        vcfg = Qwen3OmniMoeConfig(**copy.deepcopy(d)).thinker_config.vision_config
        torch.manual_seed(seed)
        model = Qwen3OmniMoeVisionEncoder(vcfg).float()
        randomize(model, seed)
        save_file({f"thinker.visual.{n}": p.detach().contiguous() for n, p in model.named_parameters()},
                  self.path("weights.safetensors"))
        inputs = make_inputs(vcfg, grids, seed + 1)
        save_file(inputs, self.path("inputs.safetensors"))
        return model, inputs

    def check_parity(self, d, grids, seed):
        model, inputs = self.write_case(d, grids, seed)
        refs = {}
        worst = {"out": 0.0, "grad": 0.0}
        for impl, layout in BACKENDS:
            with self.subTest(impl=impl, layout=layout):
                if impl not in refs:
                    model.set_attn_implementation(impl)
                    refs[impl] = reference(model, inputs)
                ref = refs[impl]
                r = run_tool(self.path("config.json"), self.path("weights.safetensors"), self.path("inputs.safetensors"),
                             self.path("out.safetensors"), impl, layout)
                self.assertEqual(r.returncode, 0, r.stderr)
                got = load_file(self.path("out.safetensors"))
                self.assertEqual(sorted(got), sorted(ref))
                for name in [n for n in ref if not n.startswith("grad.")]:
                    self.assertEqual(got[name].shape, ref[name].shape, name)
                    rel = ((got[name] - ref[name]).norm() / ref[name].norm()).item()
                    worst["out"] = max(worst["out"], rel)
                    self.assertLessEqual(rel, OUT_TOL, f"{name} ({impl}, {layout})")
                grad_names = [n for n in ref if n.startswith("grad.")]
                total = torch.cat([ref[n].flatten() for n in grad_names if n != "grad.pixel_values"]).norm().item()
                for name in grad_names:
                    self.assertEqual(got[name].shape, ref[name].shape, name)
                    delta, norm = (got[name] - ref[name]).norm().item(), ref[name].norm().item()
                    bound = GRAD_TOL * (norm + 1e-3 * total)
                    worst["grad"] = max(worst["grad"], delta / (norm + 1e-3 * total))
                    self.assertLessEqual(delta, bound, f"{name} ({impl}, {layout}): |delta| {delta:.3g}, |g| {norm:.3g}")
        print(f"\n{self.id()}: max output rel err {worst['out']:.3g}, max grad err {worst['grad']:.3g} "
              f"(|dg| / (|g| + 1e-3 |G|))")

    def test_tiny_config(self):
        self.check_parity(tiny_dict(), [(1, 4, 6), (2, 4, 4), (1, 2, 2), (3, 6, 4)], seed=0)

    def test_other_shapes(self):
        # (1, 10, 2): more patch rows than the 6x6 table has, so the resampling spreads rows apart.
        self.check_parity(other_shapes_dict(), [(2, 4, 4), (1, 10, 2), (3, 2, 8), (1, 2, 2)], seed=1)

    def check_error(self, grids, n_patches, message):
        self.write_case(tiny_dict(), [(1, 2, 2)], seed=2)
        inputs = make_inputs(Qwen3OmniMoeConfig(**tiny_dict()).thinker_config.vision_config, [(1, 2, 2)], seed=3)
        inputs["pixel_values"] = torch.randn(n_patches, inputs["pixel_values"].shape[1])
        inputs["grid_thw"] = torch.tensor(grids, dtype=torch.int64)
        save_file(inputs, self.path("bad.safetensors"))
        r = run_tool(self.path("config.json"), self.path("weights.safetensors"), self.path("bad.safetensors"),
                     self.path("out.safetensors"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(message, r.stderr)
        self.assertFalse(os.path.exists(self.path("out.safetensors")))

    def test_grid_not_matching_patches(self):
        self.check_error([(1, 4, 6), (1, 2, 2)], 24, "grid_thw covers 28 patches (sum of t*h*w) but pixel_values has 24 rows")

    def test_grid_not_divisible_by_merge_size(self):
        self.check_error([(1, 3, 4)], 12, "h and w must be multiples of spatial_merge_size 2")


if __name__ == "__main__":
    unittest.main()
