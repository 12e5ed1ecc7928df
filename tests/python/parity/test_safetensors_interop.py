"""Interop with Python's safetensors (the reference implementation), both ways, bit for bit.

Python writes every dtype -> OmniTune reads (checked through float64 values) and writes back ->
Python reads the bytes OmniTune wrote and compares them with the originals. Same for the sharded
Hugging Face layout in both directions.
"""
import json
import os
import subprocess
import tempfile
import unittest

import torch
from huggingface_hub import save_torch_state_dict
from safetensors import safe_open
from safetensors.torch import load_file, save_file

COPY = os.path.join(os.environ["OMNITUNE_TOOLS_DIR"], "safetensors_copy_tool")

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}


def random_tensor(dtype, shape, gen):
    """Random bit patterns of `dtype` (NaN payloads, denormals, -0 included)."""
    size = torch.empty((), dtype=dtype).element_size()
    raw = torch.randint(0, 256, (*shape[:-1], shape[-1] * size) if shape else (size,), generator=gen, dtype=torch.uint8)
    if dtype == torch.bool:
        return (raw % 2).view(torch.bool).reshape(shape)
    return raw.view(dtype).reshape(shape)


def make_tensors():
    gen = torch.Generator().manual_seed(1234)
    tensors = {}
    for name, dtype in DTYPES.items():
        tensors[f"{name}.matrix"] = random_tensor(dtype, [7, 13], gen)
        tensors[f"{name}.scalar"] = random_tensor(dtype, [], gen)
        tensors[f"{name}.empty"] = torch.empty((0, 3), dtype=dtype)
    return tensors


def raw_bytes(t):
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


class Interop(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def copy(self, src, *extra):
        out, values = self.path("out.safetensors"), self.path("values.safetensors")
        subprocess.run([COPY, src, out, values, *extra], check=True)
        return out, values

    def assert_same(self, expected, got_path):
        got = load_file(got_path)
        self.assertEqual(sorted(got), sorted(expected))
        for name, t in expected.items():
            self.assertEqual(got[name].dtype, t.dtype, name)
            self.assertEqual(tuple(got[name].shape), tuple(t.shape), name)
            self.assertEqual(raw_bytes(got[name]), raw_bytes(t), name)

    def test_every_dtype_both_ways(self):
        tensors = make_tensors()
        src = self.path("python.safetensors")
        save_file(tensors, src, metadata={"format": "pt", "note": "written by python"})
        out, values = self.copy(src)
        self.assert_same(tensors, out)  # C++ wrote back exactly what Python wrote
        with safe_open(out, framework="pt") as f:
            self.assertEqual(f.metadata(), {"format": "pt", "note": "written by python"})
        for name, v in load_file(values).items():  # C++ read each dtype as Python does
            ref = tensors[name].to(torch.float64)
            self.assertTrue(torch.equal(torch.isnan(v), torch.isnan(ref)), name)
            self.assertTrue(torch.equal(torch.nan_to_num(v), torch.nan_to_num(ref)), name)

    def test_sharded_written_by_omnitune_reads_in_python(self):
        tensors = make_tensors()
        src = self.path("python.safetensors")
        save_file(tensors, src)
        shard_dir = self.path("sharded")
        os.mkdir(shard_dir)
        self.copy(src, shard_dir, "512")
        with open(os.path.join(shard_dir, "model.safetensors.index.json")) as f:
            index = json.load(f)
        self.assertEqual(sorted(index["weight_map"]), sorted(tensors))
        self.assertEqual(index["metadata"]["total_size"], sum(t.numel() * t.element_size() for t in tensors.values()))
        files = sorted(set(index["weight_map"].values()))
        self.assertGreater(len(files), 1)
        merged = {}
        for file in files:
            part = load_file(os.path.join(shard_dir, file))
            for name in part:
                self.assertEqual(index["weight_map"][name], file)
            merged.update(part)
        for name, t in tensors.items():
            self.assertEqual(raw_bytes(merged[name]), raw_bytes(t), name)
            self.assertEqual(merged[name].dtype, t.dtype, name)

    def test_sharded_written_by_huggingface_reads_in_omnitune(self):
        tensors = {k: v for k, v in make_tensors().items() if v.numel()}
        hf_dir = self.path("hf")
        os.mkdir(hf_dir)
        save_torch_state_dict(tensors, hf_dir, max_shard_size=600)
        self.assertTrue(os.path.exists(os.path.join(hf_dir, "model.safetensors.index.json")))
        out, _ = self.copy(hf_dir)
        self.assert_same(tensors, out)

    def test_malformed_file_is_a_clear_error(self):
        src = self.path("python.safetensors")
        save_file({"w": torch.ones(100)}, src)
        with open(src, "rb") as f:
            data = f.read()
        bad = self.path("truncated.safetensors")
        with open(bad, "wb") as f:
            f.write(data[:-10])
        r = subprocess.run([COPY, bad, self.path("o"), self.path("v")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("truncated.safetensors: tensor 'w': data_offsets [0, 400] run past the end of the data", r.stderr)


if __name__ == "__main__":
    unittest.main()
