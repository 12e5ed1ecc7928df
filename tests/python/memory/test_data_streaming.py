"""streaming: true keeps the loader's memory flat in the dataset's size: one epoch over 10k and over
100k JSON Lines rows (loader_memory_tool, a subprocess each) must peak within 20 MB of each other,
while the in-memory (non-streaming) load of the same 100k rows is measured for comparison. Also
`omnitune data dump` / `preview` on a streaming data.json, and a JSON array file refused for streaming."""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
from common import OMNITUNE, TOKENIZER_DIR

TOOL = os.path.join(os.environ["OMNITUNE_TOOLS_DIR"], "loader_memory_tool")
FLAT_BOUND_MB = 20


def write_rows(path, n, seed):
    rng = np.random.default_rng(seed)
    words = ["alpha", "beta", "gamma", "delta", "omni", "tune", "stream", "row", "token", "batch"]
    with open(path, "w") as f:
        for i in range(n):
            question = " ".join(rng.choice(words, 30))
            f.write(json.dumps({"messages": [{"role": "user", "content": f"{i}: {question}"},
                                             {"role": "assistant", "content": f"answer {i} " + " ".join(rng.choice(words, 20))}]}) + "\n")


class Streaming(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        for n in (10_000, 100_000):
            write_rows(os.path.join(cls.dir, f"rows{n}.jsonl"), n, n)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def data_json(self, dataset, name, **basic):
        cfg = {"dataset_param": {"preprocess_parameters": {"model_name_or_path": TOKENIZER_DIR},
                                 "basic_parameters": {"dataset": dataset, **basic},
                                 "attr": {"messages": "messages", "role_tag": "role", "content_tag": "content",
                                          "user_tag": "user", "assistant_tag": "assistant"}},
               "dataloader_param": {"shuffle": True}}
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def measure(self, data_json, batches):
        r = subprocess.run([TOOL, data_json, "8", str(batches)], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def test_memory_is_flat_in_dataset_size(self):
        runs = {}
        for n in (10_000, 100_000):
            data = self.data_json(os.path.join(self.dir, f"rows{n}.jsonl"), f"stream{n}.json", streaming=True, buffer_size=1024)
            runs[n] = self.measure(data, 0)  # one whole epoch
            self.assertEqual(runs[n]["epoch"], 1)
            self.assertGreaterEqual(runs[n]["samples"], n)  # every row of the epoch was built
        in_memory = self.measure(self.data_json(os.path.join(self.dir, "rows100000.jsonl"), "memory.json"), 50)
        mb = lambda kb: kb / 1024
        growth = mb(runs[100_000]["peak_rss_kb"] - runs[10_000]["peak_rss_kb"])
        print(f"\npeak RSS, one epoch, micro-batch 8, shuffle buffer 1024: streaming 10k rows {mb(runs[10_000]['peak_rss_kb']):.1f} MB, "
              f"100k rows {mb(runs[100_000]['peak_rss_kb']):.1f} MB (growth {growth:+.1f} MB); "
              f"in memory 100k rows {mb(in_memory['peak_rss_kb']):.1f} MB "
              f"(after loading {mb(in_memory['opened_peak_rss_kb']):.1f} MB)")
        self.assertLess(growth, FLAT_BOUND_MB)
        # The measurement sees dataset size: holding the 100k rows costs far more than the bound.
        self.assertGreater(mb(in_memory["peak_rss_kb"] - runs[100_000]["peak_rss_kb"]), FLAT_BOUND_MB)

    def test_inspection_commands_and_errors(self):
        data = self.data_json(os.path.join(self.dir, "rows10000.jsonl"), "inspect.json", streaming=True)
        r = subprocess.run([OMNITUNE, "data", "preview", "--mm-data", data, "--index", "9999"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rows10000.jsonl row 9999 (line 10000) (index 9999)", r.stdout)
        self.assertIn("9999: ", r.stdout)
        r = subprocess.run([OMNITUNE, "data", "preview", "--mm-data", data, "--index", "10000"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--index 10000: the datasets hold 10000 rows", r.stderr)
        array = os.path.join(self.dir, "rows.json")
        with open(array, "w") as f:
            json.dump([{"messages": []}], f)
        r = subprocess.run([OMNITUNE, "data", "preview", "--mm-data", self.data_json(array, "array.json", streaming=True)],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("streaming reads JSON Lines files (.jsonl, one row per line) but '" + array + "'", r.stderr)


if __name__ == "__main__":
    unittest.main()
