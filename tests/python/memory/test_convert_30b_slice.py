"""omnitune convert at the real Qwen3-Omni-30B-A3B dimensions (128 experts, hidden 2048, vocab 152064) on
a 2-layer slice of every tower (about 2B parameters: 4 GB in bf16, 8 GB as the fp32 checkpoint):
the round trip is bit-exact, each conversion's peak memory stays below its largest input shard plus a
fixed margin, and a conversion killed half-way leaves nothing in place."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import measure
from convert_util import assert_same_tensors, weight_files

from common import OMNITUNE, REAL_DIR, omnitune

MARGIN = 1 << 30  # fixed: the process itself (libtorch) plus the pieces in flight


def slice_config():
    with open(os.path.join(REAL_DIR, "config.json")) as f:
        d = json.load(f)
    thinker = d["thinker_config"]
    thinker["text_config"]["num_hidden_layers"] = 2
    thinker["audio_config"]["encoder_layers"] = 2
    thinker["vision_config"]["depth"] = 2
    thinker["vision_config"]["deepstack_visual_indexes"] = [0, 1]
    d["talker_config"]["text_config"]["num_hidden_layers"] = 2
    d["talker_config"]["code_predictor_config"]["num_hidden_layers"] = 1
    d["talker_config"]["code_predictor_config"]["layer_types"] = ["full_attention"]
    d["code2wav_config"]["num_hidden_layers"] = 2
    return d


def run_measured(*args):
    """Runs omnitune; returns (stdout + stderr, peak resident set size in bytes)."""
    return measure.run_measured(OMNITUNE, *args)


def written(d):
    """Bytes in the files of `d` so far (0 while it does not exist)."""
    total = 0
    for f in os.listdir(d) if os.path.isdir(d) else []:
        try:
            total += os.path.getsize(os.path.join(d, f))
        except FileNotFoundError:  # renamed meanwhile
            pass
    return total


def largest_file(d):
    return max(os.path.getsize(f) for f in weight_files(d))


class ConvertRealDimensions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        config_dir = os.path.join(cls.tmp.name, "config")
        os.makedirs(config_dir)
        with open(os.path.join(config_dir, "config.json"), "w") as f:
            json.dump(slice_config(), f, indent=2)
        shutil.copy(os.path.join(REAL_DIR, "preprocessor_config.json"), config_dir)
        cls.hf = os.path.join(cls.tmp.name, "hf")
        omnitune("init-model", "--config", config_dir, "--out", cls.hf, "--dtype", "bf16", "--max-shard-size", "1GB", "--seed", "3")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_round_trip_bit_exact_in_bounded_memory(self):
        save = os.path.join(self.tmp.name, "save")
        # Killed while writing: neither release/ nor the tracker appears, only a hidden partial directory.
        p = subprocess.Popen([OMNITUNE, "convert", "hf-to-dcp", "--hf-dir", self.hf, "--save-dir", save],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        partial = os.path.join(save, f".release.partial-{p.pid}")
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None:
            if written(partial) > (100 << 20):
                break
            time.sleep(0.05)
        self.assertIsNone(p.poll(), "the conversion finished before it could be interrupted")
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.assertEqual(os.listdir(save), [os.path.basename(partial)])

        output, peak = run_measured("convert", "hf-to-dcp", "--hf-dir", self.hf, "--save-dir", save, "--max-shard-size", "2GB")
        self.assertIn(f"{partial}: left by an interrupted write", output)
        release = os.path.join(save, "release")
        print(f"hf-to-dcp: peak RSS {peak / 2**20:.0f} MiB; largest input shard {largest_file(self.hf) / 2**20:.0f} MiB "
              f"of {sum(os.path.getsize(f) for f in weight_files(self.hf)) / 2**20:.0f}", flush=True)
        self.assertLess(peak, largest_file(self.hf) + MARGIN)

        out = os.path.join(self.tmp.name, "out")
        _, peak = run_measured("convert", "dcp-to-hf", "--hf-dir", self.hf, "--dcp-dir", save, "--save-dir", out,
                               "--max-shard-size", "1GB")
        print(f"dcp-to-hf: peak RSS {peak / 2**20:.0f} MiB; largest input shard {largest_file(release) / 2**20:.0f} MiB "
              f"of {sum(os.path.getsize(f) for f in weight_files(release)) / 2**20:.0f}", flush=True)
        self.assertLess(peak, largest_file(release) + MARGIN)
        n = assert_same_tensors(self, self.hf, out)
        self.assertGreater(n, 2 * 128 * 3)  # 2 layers x 128 experts x gate, up, down, and the rest


if __name__ == "__main__":
    unittest.main()
