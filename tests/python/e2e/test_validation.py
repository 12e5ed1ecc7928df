"""Validation loss (--eval-interval, --eval-iters, data.json's val_dataset / val_rate): every interval the
trainer runs the held-out rows forward and logs their mean loss (metrics.jsonl `eval_loss`, the loss curve);
it equals `omnitune forward` of the checkpoint on each held-out row, averaged; 2 sharded ranks and 2
context-parallel ranks give the one process's values; no validation rows or --eval-interval 0 means no evaluation; too few rows is an error."""
import json
import os
import unittest

from common import omnitune
from distributed_fixture import launch, rel
from train_fixture import TinyModelCase, read_metrics

VAL_ROWS = 4  # the first rows of the training file: an image, an audio, a text and a multi-turn row


class Validation(TinyModelCase):
    rows = 8

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(cls.data) as f:
            cfg = json.load(f)
        basic = cfg["dataset_param"]["basic_parameters"]
        with open(basic["dataset"]) as f:
            held_out = f.readlines()[:VAL_ROWS]
        cls.val_rows = os.path.join(cls.root, "val.jsonl")
        with open(cls.val_rows, "w") as f:
            f.writelines(held_out)
        cls.with_val = cls.data_json("with_val.json", cfg, val_dataset=cls.val_rows)
        cls.val_only = cls.data_json("val_only.json", cfg, dataset=cls.val_rows)  # the held-out rows, for dump
        cls.with_rate = cls.data_json("with_rate.json", cfg, val_rate=2)

    @classmethod
    def data_json(cls, name, cfg, **basic):
        cfg = json.loads(json.dumps(cfg))
        cfg["dataset_param"]["basic_parameters"].update(basic)
        path = os.path.join(cls.root, name)
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def args(self, name, data, *extra, iters=4):
        return ["--mm-data", data, "--mm-model", self.model_json, "--global-batch-size", "2", "--lr", "1e-3",
                "--train-iters", str(iters), "--log-interval", "1", "--seed", "3", "--save", self.path(name), "--device",
                "cpu", "--distributed-timeout-minutes", "1", *extra]

    def test_eval_loss_equals_forward_on_the_held_out_rows(self):
        omnitune("train", *self.args("val", self.with_val, "--eval-interval", "2"))
        metrics = read_metrics(self.path("val"))
        self.assertEqual([m["iteration"] for m in metrics if "eval_loss" in m], [2, 4])
        losses = []
        for i in range(VAL_ROWS):
            batch, out = self.path(f"row{i}.safetensors"), self.path(f"row{i}_out.safetensors")
            omnitune("data", "dump", "--mm-data", self.val_only, "--index", str(i), "--out", batch)
            r = omnitune("forward", "--model", self.path("val", "iter_0000004"), "--batch", batch, "--out", out)
            losses.append(float(r.stdout.split("loss ")[1]))
        expected = sum(losses) / VAL_ROWS
        self.assertLessEqual(rel(metrics[-1]["eval_loss"], expected), 1e-5, (metrics[-1]["eval_loss"], losses))
        with open(self.path("val", "loss_curve.svg")) as f:
            self.assertIn("validation", f.read())

        # two sharded ranks (each evaluates every other held-out row), and two context-parallel ranks (each
        # holds half of every sequence): the same losses
        yaml = self.path("fsdp2.yaml")
        with open(yaml, "w") as f:
            f.write("sharding_size: auto\nparam_dtype: fp32\nreduce_dtype: fp32\n")
        for name, extra, tol in (("sharded", ("--fsdp2-config", yaml), 1e-6),
                                 ("cp2", ("--context-parallel-size", "2"), 1e-5)):
            launch(2, *self.args(name, self.with_val, "--eval-interval", "2", *extra))
            for m, r in zip(read_metrics(self.path(name)), metrics):
                self.assertLessEqual(rel(m["loss"], r["loss"]), tol, f"{name} {m['iteration']}")
                self.assertEqual("eval_loss" in m, "eval_loss" in r, f"{name} {m['iteration']}")
                if "eval_loss" in r:
                    self.assertLessEqual(rel(m["eval_loss"], r["eval_loss"]), tol, f"{name} {m['iteration']}")

    def test_val_rate_holds_rows_out(self):
        r = omnitune("train", *self.args("rate", self.with_rate, "--eval-interval", "4"))
        self.assertIn("2 of 8 rows held out for validation", r.stdout + r.stderr)
        metrics = read_metrics(self.path("rate"))
        self.assertEqual([m["iteration"] for m in metrics if "eval_loss" in m], [4])

    def test_no_evaluation_without_rows_or_interval(self):
        omnitune("train", *self.args("none", self.data, "--eval-interval", "2", iters=2))
        omnitune("train", *self.args("zero", self.with_val, "--eval-interval", "0", iters=2))
        for name in ("none", "zero"):
            self.assertFalse(any("eval_loss" in m for m in read_metrics(self.path(name))), name)

    def test_too_few_rows_is_an_error(self):
        r = omnitune("train", *self.args("few", self.with_val, "--eval-interval", "2", "--eval-iters", "5"),
                     check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"the validation set has {VAL_ROWS} rows; --eval-iters 5", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
