"""`omnitune inspect <dir with only config.json>` builds the thinker on the meta device and reports the
parameters of each tower; they must equal transformers' own count of the same config (30B-A3B and tiny),
and building the 30B model must not spend memory on weights."""
import collections
import json
import os
import resource
import subprocess
import unittest

import torch
from transformers import Qwen3OmniMoeConfig, Qwen3OmniMoeForConditionalGeneration

from common import OMNITUNE, SOURCE_DIR
from tiny_models import tower_of

CONFIGS = os.path.join(SOURCE_DIR, "assets", "configs")


def transformers_counts(config_dir):
    cfg = Qwen3OmniMoeConfig.from_pretrained(config_dir)
    with torch.device("meta"):
        model = Qwen3OmniMoeForConditionalGeneration(cfg)
    counts = collections.Counter()
    for name, p in model.named_parameters():
        counts[tower_of(name)] += p.numel()
    return dict(counts)


class ModelSize(unittest.TestCase):
    def check(self, name):
        config_dir = os.path.join(CONFIGS, name)
        r = subprocess.run([OMNITUNE, "inspect", "--json", config_dir], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        ours = json.loads(r.stdout)
        self.assertTrue(ours["from_config"])
        expected = transformers_counts(config_dir)
        self.assertEqual({t: c["parameters"] for t, c in ours["towers"].items()}, expected)
        self.assertEqual(ours["total"]["parameters"], sum(expected.values()))
        return ours

    def test_real_30b_a3b(self):
        ours = self.check("qwen3-omni-30b-a3b")
        self.assertEqual(ours["total"]["parameters"], 31_719_205_488)
        self.assertEqual(ours["total"]["tensors"], 19_743)  # thinker tensors of the published checkpoint
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.assertLess(peak_kib, 2 * 1024 * 1024, "building the 30B model on the meta device used memory for weights")
        text = subprocess.run([OMNITUNE, "inspect", os.path.join(CONFIGS, "qwen3-omni-30b-a3b")], capture_output=True,
                              text=True).stdout
        self.assertIn("31,719,205,488 parameters", text)

    def test_tiny(self):
        self.check("tiny-qwen3-omni")


if __name__ == "__main__":
    unittest.main()
