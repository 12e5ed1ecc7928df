"""Helpers for the `omnitune convert` tests: running the CLI, reading a checkpoint directory with the
safetensors reference, and comparing two of them byte for byte."""
import json
import os

import torch
from safetensors import safe_open




def weight_files(d):
    """The safetensors files of a model directory, as its index (or the single file) lists them."""
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            return sorted({os.path.join(d, v) for v in json.load(f)["weight_map"].values()})
    return [os.path.join(d, "model.safetensors")]


def locations(d):
    """name -> file for every tensor of a model directory (read with the reference implementation)."""
    out = {}
    for path in weight_files(d):
        with safe_open(path, "pt") as f:
            for k in f.keys():
                assert k not in out, f"{k} twice"
                out[k] = path
    return out


def tensors(d):
    """name -> tensor for every tensor of a model directory."""
    out = {}
    for path in weight_files(d):
        with safe_open(path, "pt") as f:
            out.update({k: f.get_tensor(k) for k in f.keys()})
    return out


def raw_bytes(t):
    return t.contiguous().flatten().view(torch.uint8)


def assert_same_tensors(test, a, b):
    """Same names, dtypes, shapes and bytes; one tensor in memory at a time. Returns the tensor count."""
    la, lb = locations(a), locations(b)
    test.assertEqual(sorted(la), sorted(lb))
    files = {}
    for k in sorted(la):
        for path in (la[k], lb[k]):
            if path not in files:
                files[path] = safe_open(path, "pt")
        ta, tb = files[la[k]].get_tensor(k), files[lb[k]].get_tensor(k)
        test.assertEqual(ta.dtype, tb.dtype, k)
        test.assertEqual(ta.shape, tb.shape, k)
        test.assertTrue(torch.equal(raw_bytes(ta), raw_bytes(tb)), k)
    return len(la)


def load_in_transformers(test, model_dir, dtype=torch.float32):
    """Qwen3OmniMoeForConditionalGeneration.from_pretrained, asserting no missing, unexpected or mis-shaped key."""
    from transformers import Qwen3OmniMoeForConditionalGeneration
    model, info = Qwen3OmniMoeForConditionalGeneration.from_pretrained(model_dir, dtype=dtype, output_loading_info=True)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        test.assertFalse(info[key], f"{model_dir}: {key}")
    return model.eval()


def non_weight_files(d):
    return sorted(f for f in os.listdir(d) if not f.endswith(".safetensors") and f != "model.safetensors.index.json")


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()
