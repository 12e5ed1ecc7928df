"""The omnitune command line: --version, --help of every subcommand, errors as exit codes."""
import os
import subprocess
import unittest

import torch

OMNITUNE = os.environ["OMNITUNE_BIN"]
SUBCOMMANDS = ["inspect", "init-model", "forward"]


def run(*args):
    return subprocess.run([OMNITUNE, *args], capture_output=True, text=True)


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


if __name__ == "__main__":
    unittest.main()
