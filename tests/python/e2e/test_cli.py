"""The omnitune command line: --version, --help of every subcommand, errors as exit codes."""
import functools
import os
import tempfile
import unittest

import torch
from common import omnitune

run = functools.partial(omnitune, check=False)

SUBCOMMANDS = ["inspect", "init-model", "forward"]


class Cli(unittest.TestCase):
    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^omnitune \d+\.\d+\.\d+ \(git [0-9a-f]{7,}(-dirty)?\)$")
        self.assertEqual(lines[1], "libtorch " + torch.__version__.split("+")[0])
        self.assertTrue(lines[2].startswith("CUDA available: " + ("yes" if torch.cuda.is_available() else "no")))

    def test_help_for_every_subcommand(self):
        top = run("--help")
        self.assertEqual(top.returncode, 0)
        for sub in SUBCOMMANDS:
            self.assertIn(sub, top.stdout)
            r = run(sub, "--help")
            self.assertEqual(r.returncode, 0, sub)
            self.assertIn("Usage:", r.stdout)

    def test_errors(self):
        r = run("inspect", "/nonexistent/ckpt")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "error: /nonexistent/ckpt: no such file or directory\n")
        self.assertNotEqual(run("inspekt").returncode, 0)
        self.assertNotEqual(run("inspect").returncode, 0)  # missing path
        r = run("forward", "--model", "m", "--batch", "b", "--out", "o", "--attn", "flash_attention_2")
        self.assertEqual(r.returncode, 1)
        self.assertIn("'flash_attention_2' needs a CUDA device", r.stderr)
        r = run("forward", "--model", "m", "--batch", "b", "--out", "o", "--text-attn", "sdpaa")
        self.assertIn("unknown attn_implementation 'sdpaa' (did you mean 'sdpa'?)", r.stderr)
        r = run("--log-level", "verbose", "inspect", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown log level 'verbose'", r.stderr)

    def test_init_model_stages_its_output(self):
        """init-model writes a hidden staging directory and renames it: a sibling <out>.partial (somebody's
        data) is left alone, no staging directory remains, and an existing non-empty output is refused."""
        tiny = os.path.join(os.environ["OMNITUNE_SOURCE_DIR"], "assets", "configs", "tiny-qwen3-omni")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "model")
            os.makedirs(out + ".partial")
            with open(os.path.join(out + ".partial", "keep.txt"), "w") as f:
                f.write("not ours")
            r = run("init-model", "--config", tiny, "--out", out, "--seed", "1")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(os.path.exists(os.path.join(out + ".partial", "keep.txt")))
            self.assertTrue(os.path.exists(os.path.join(out, "model.safetensors")))
            self.assertEqual(sorted(os.listdir(d)), ["model", "model.partial"])
            r = run("init-model", "--config", tiny, "--out", out)
            self.assertEqual(r.returncode, 1)
            self.assertIn("exists and is not empty", r.stderr)


if __name__ == "__main__":
    unittest.main()
