"""`omnitune inspect` on tiny Qwen3-Omni checkpoints written by transformers: its per-tower parameter
counts must equal transformers' own count of the model's parameters."""
import collections
import json
import os
import subprocess
import tempfile
import unittest

from safetensors import safe_open

from tiny_models import tiny_model, tower_of
from common import OMNITUNE



def inspect(path, *flags):
    r = subprocess.run([OMNITUNE, "inspect", path, *flags], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"inspect failed ({r.returncode}): {r.stderr}")
    return r.stdout


class InspectQwen3Omni(unittest.TestCase):
    def check(self, with_talker, max_shard_size):
        model = tiny_model(with_talker)
        expected = collections.Counter()
        for name, p in model.named_parameters():
            expected[tower_of(name)] += p.numel()
        with tempfile.TemporaryDirectory() as d:
            model.save_pretrained(d, max_shard_size=max_shard_size)
            summary = json.loads(inspect(d, "--json", "--summary"))
            got = {tower: c["parameters"] for tower, c in summary["towers"].items()}
            self.assertEqual(got, dict(expected))
            self.assertEqual(summary["total"]["parameters"], sum(p.numel() for p in model.parameters()))

            files = [f for f in os.listdir(d) if f.endswith(".safetensors")]
            self.assertEqual(summary["files"], len(files))
            on_disk = {}
            for f in files:
                with safe_open(os.path.join(d, f), "pt") as st:
                    for k in st.keys():
                        on_disk[k] = st.get_slice(k)
            self.assertEqual(summary["total"]["tensors"], len(on_disk))

            listing = json.loads(inspect(d, "--json"))["tensors"]
            self.assertEqual([t["name"] for t in listing], sorted(on_disk))
            for t in listing:
                self.assertEqual(t["shape"], list(on_disk[t["name"]].get_shape()), t["name"])
                self.assertEqual(t["dtype"], on_disk[t["name"]].get_dtype(), t["name"])

            text = inspect(d)
            self.assertIn("Qwen3-Omni towers:", text)
            self.assertIn(f"{summary['total']['parameters']:,} parameters", text)
            return got

    def test_thinker_only_single_file(self):
        got = self.check(with_talker=False, max_shard_size="1GB")
        self.assertEqual(set(got), {"audio", "vision", "text", "lm_head"})

    def test_with_talker_sharded(self):
        got = self.check(with_talker=True, max_shard_size="20MB")
        self.assertEqual(set(got), {"audio", "vision", "text", "lm_head", "talker", "code2wav"})


if __name__ == "__main__":
    unittest.main()
