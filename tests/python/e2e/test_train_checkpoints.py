"""Checkpoints under failure: kill -9 in the middle of a save, then resume from the previous checkpoint;
a disk that fills up during a save (a per-file size limit) gives a clear error and the earlier
checkpoint stays loadable; a checkpoint of another model config is refused before training."""
import json
import os
import resource
import shutil
import signal
import subprocess
import time
import unittest

from train_fixture import TinyModelCase, make_model_json, read_metrics
from common import OMNITUNE, TINY_DIR, omnitune


class TrainCheckpoints(TinyModelCase):
    rows = 4

    def args(self, save, iters, *extra, model_json=None):
        return ["train", "--mm-data", self.data, "--mm-model", model_json or self.model_json, "--lr", "1e-3",
                "--train-iters", str(iters), "--log-interval", "1", "--save", save, "--device", "cpu", *extra]

    def test_kill_during_save_then_resume(self):
        for attempt in range(8):
            save = os.path.join(self.root, f"killed{attempt}")
            proc = subprocess.Popen([OMNITUNE, *self.args(save, 300, "--save-interval", "1")], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            caught = None
            deadline = time.time() + 240
            while proc.poll() is None and time.time() < deadline:
                if os.path.exists(os.path.join(save, "latest_checkpointed_iteration.txt")):
                    partial = [n for n in os.listdir(save) if ".partial" in n]
                    if partial:
                        proc.send_signal(signal.SIGKILL)
                        caught = partial[0]
                        break
                time.sleep(0.0005)
            proc.kill()
            proc.wait()
            if caught and any(".partial" in n for n in os.listdir(save)):
                break
        else:
            self.fail("never caught the trainer in the middle of a save")
        with open(os.path.join(save, "latest_checkpointed_iteration.txt")) as f:
            last = int(f.read())
        self.assertTrue(os.path.isdir(os.path.join(save, f"iter_{last:07d}")))
        r = omnitune(*self.args(save, last + 2, "--load", save))
        out = r.stdout + r.stderr
        self.assertIn(f"resuming at iteration {last}", out)
        self.assertIn(".partial", out)  # the half-written directory is reported and ignored
        self.assertEqual([m["iteration"] for m in read_metrics(save)][-2:], [last + 1, last + 2])

    def test_disk_full_during_save_keeps_the_previous_checkpoint(self):
        save = os.path.join(self.root, "full")
        omnitune(*self.args(save, 2))
        model_bytes = os.path.getsize(os.path.join(save, "iter_0000002", "model.safetensors"))

        def small_disk():
            resource.setrlimit(resource.RLIMIT_FSIZE, (model_bytes // 2, model_bytes // 2))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

        r = subprocess.run([OMNITUNE, *self.args(save, 4, "--load", save)], capture_output=True, text=True,
                           preexec_fn=small_disk)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"error: .*(File too large|short write|No space)")
        with open(os.path.join(save, "latest_checkpointed_iteration.txt")) as f:
            self.assertEqual(f.read().strip(), "2")
        self.assertFalse(os.path.exists(os.path.join(save, "iter_0000004")))
        r = omnitune(*self.args(save, 3, "--load", save))  # the earlier checkpoint still resumes
        self.assertIn("resuming at iteration 2", r.stdout + r.stderr)

    def test_checkpoint_of_another_model_is_refused(self):
        save = os.path.join(self.root, "tiny-save")
        omnitune(*self.args(save, 1))
        other_cfg = os.path.join(self.root, "other-config")
        shutil.copytree(TINY_DIR, other_cfg)
        with open(os.path.join(other_cfg, "config.json")) as f:
            cfg = json.load(f)
        cfg["thinker_config"]["text_config"]["num_hidden_layers"] += 1
        with open(os.path.join(other_cfg, "config.json"), "w") as f:
            json.dump(cfg, f)
        other = os.path.join(self.root, "other-model")
        omnitune("init-model", "--config", other_cfg, "--out", other)
        other_json_dir = os.path.join(self.root, "other-json")
        os.makedirs(other_json_dir)
        other_json = make_model_json(other_json_dir, other)
        out = os.path.join(self.root, "other-save")
        r = omnitune(*self.args(out, 3, "--load", save, model_json=other_json), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("num_hidden_layers", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "iter_0000002")))


if __name__ == "__main__":
    unittest.main()
