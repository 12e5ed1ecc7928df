"""Nothing a command writes may destroy what it reads or what another run writes: an output that is, holds or
lies inside an input is refused (symlinks and '..' resolved) and the input keeps every byte; a --save
directory is owned by one run at a time (a stale lock is reported and taken over); a fresh run does not mix
into another run's checkpoints; a resume from an older checkpoint leaves every iteration once in
metrics.jsonl and in TensorBoard; leftovers of interrupted writes are reported with how to remove them."""
import functools
import hashlib
import json
import os
import signal
import subprocess
import time
import unittest

import common
from common import OMNITUNE, TINY_DIR
from train_fixture import TinyModelCase, read_metrics


TIMEOUT = 60
omnitune = functools.partial(common.omnitune, check=False, timeout=TIMEOUT)


def tree_digest(path):
    """A digest of every file's name and bytes below `path` (or of the file itself)."""
    h = hashlib.sha256()
    if os.path.isfile(path):
        with open(path, "rb") as f:
            h.update(f.read())
        return h.hexdigest()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            h.update(os.path.relpath(os.path.join(root, name), path).encode())
            with open(os.path.join(root, name), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


class OutputSafety(TinyModelCase):

    def refused(self, args, protected, *expected):
        """exit 1, one error line with `expected`, and `protected` unchanged to the byte."""
        before = tree_digest(protected)
        r = omnitune(*args)
        self.assertEqual(r.returncode, 1, f"{args}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        self.assertTrue(r.stderr.startswith("error: "), r.stderr)
        for fragment in expected:
            self.assertIn(fragment, r.stderr)
        self.assertEqual(tree_digest(protected), before, f"{protected} changed")

    def train(self, save, *extra, iters=2, check=True):
        r = omnitune("train", "--mm-data", self.data, "--mm-model", self.model_json, "--lr", "1e-3", "--train-iters",
                     str(iters), "--save", save, "--device", "cpu", "--log-interval", "1", *extra)
        if check:
            self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        return r

    def test_outputs_never_overwrite_inputs(self):
        text = self.path("text.jsonl")
        with open(text, "w") as f:
            f.write(json.dumps({"text": "hello"}) + "\n")
        tokenizer = os.path.join(os.environ["OMNITUNE_SOURCE_DIR"], "assets", "tokenizer", "qwen3-omni")
        self.refused(["tokenize", "--tokenizer", tokenizer, "--input", text, "--output", text], text, "is the input --input")
        link = self.path("link.jsonl")
        os.symlink(text, link)
        self.refused(["tokenize", "--tokenizer", tokenizer, "--input", text, "--output", link], text, "once links are resolved")
        dotted = os.path.join(self.root, "media", "..", "text.jsonl")
        self.refused(["tokenize", "--tokenizer", tokenizer, "--input", text, "--output", dotted], text, "is the input")

        weights = os.path.join(self.model, "model.safetensors")
        batch = self.path("batch.safetensors")
        self.assertEqual(omnitune("data", "dump", "--mm-data", self.data, "--index", "0", "--out", batch).returncode, 0)
        self.refused(["forward", "--model", self.model, "--batch", batch, "--out", weights], self.model, "lies inside the input --model")
        self.refused(["data", "dump", "--mm-data", self.data, "--index", "0", "--out", self.data], self.data, "is the input --mm-data")
        self.refused(["init-model", "--config", TINY_DIR, "--out", TINY_DIR], TINY_DIR, "is the input --config")

    def test_conversions_never_replace_their_source(self):
        outer = self.path("outer")
        hf = os.path.join(outer, "hf")
        self.assertEqual(omnitune("init-model", "--config", TINY_DIR, "--out", hf, "--seed", "2").returncode, 0)
        self.refused(["convert", "hf-to-dcp", "--hf-dir", hf, "--save-dir", outer], hf, "contains the input --hf-dir")
        ckpt = self.path("ckpt")
        r = omnitune("convert", "hf-to-dcp", "--hf-dir", hf, "--save-dir", ckpt)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.refused(["convert", "dcp-to-hf", "--hf-dir", hf, "--dcp-dir", ckpt, "--save-dir", outer, "--overwrite"], hf,
                     "contains the input --hf-dir")
        self.refused(["convert", "dcp-to-hf", "--hf-dir", hf, "--dcp-dir", ckpt, "--save-dir", os.path.join(ckpt, "export")],
                     ckpt, "lies inside the input --dcp-dir")

    def test_leftovers_of_interrupted_writes_are_reported(self):
        save = self.path("leftover_ckpt")
        partial = os.path.join(save, ".release.partial-999999999")
        os.makedirs(partial)
        with open(os.path.join(partial, "model.safetensors"), "wb") as f:
            f.write(b"\0" * 1000)
        r = omnitune("convert", "hf-to-dcp", "--hf-dir", self.model, "--save-dir", save)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{partial}: left by an interrupted write", r.stdout)
        self.assertIn(f"rm -rf '{partial}'", r.stdout)
        self.assertTrue(os.path.isdir(partial))  # reported, never removed behind the user's back

    def test_one_run_per_save_directory(self):
        save = self.path("locked")
        first = subprocess.Popen([OMNITUNE, "train", "--mm-data", self.data, "--mm-model", self.model_json, "--lr", "1e-3",
                                  "--train-iters", "100000", "--save", save, "--device", "cpu", "--log-interval", "1000"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            lock = os.path.join(save, ".omnitune.lock")
            deadline = time.time() + TIMEOUT
            while time.time() < deadline and not (os.path.exists(lock) and os.path.getsize(lock) > 0):
                time.sleep(0.1)
            self.assertGreater(os.path.getsize(lock), 0, "the first run did not take the lock")
            second = self.train(save, check=False)
            self.assertEqual(second.returncode, 1, second.stderr)
            self.assertIn(f"is in use by another run (pid {first.pid} on", second.stderr)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=TIMEOUT)
            third = self.train(save)  # the dead run's lock is stale: reported and taken over
            self.assertIn("a stale lock of a run that ended without releasing it", third.stdout)
            self.assertEqual(os.path.getsize(lock), 0)  # released at the end
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()

    def test_a_fresh_run_does_not_mix_into_another_series(self):
        save = self.path("series")
        self.train(save)
        before = tree_digest(save)
        r = self.train(save, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already holds checkpoints (iter_0000002", r.stderr)
        self.assertIn(f"--load {save}", r.stderr)
        self.assertEqual(tree_digest(save), before)

    def test_resuming_from_an_older_checkpoint_records_each_iteration_once(self):
        save, tb = self.path("older"), self.path("older_tb")
        self.train(save, "--save-interval", "2", "--tensorboard-dir", tb, iters=6)
        straight = {m["iteration"]: m["loss"] for m in read_metrics(save)}
        time.sleep(1.1)  # the new event file sorts after the first one
        r = self.train(save, "--load", os.path.join(save, "iter_0000002"), "--tensorboard-dir", tb, iters=6)
        self.assertIn("dropped 4 records after iteration 2", r.stdout)
        metrics = read_metrics(save)
        self.assertEqual([m["iteration"] for m in metrics], [1, 2, 3, 4, 5, 6])
        for m in metrics:  # the same data and weights: the resumed curve is the straight one
            self.assertEqual(m["loss"], straight[m["iteration"]])
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        events = EventAccumulator(tb)
        events.Reload()
        self.assertEqual([e.step for e in events.Scalars("train/loss")], [1, 2, 3, 4, 5, 6])


if __name__ == "__main__":
    unittest.main()
