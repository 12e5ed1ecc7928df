"""Hostile and careless input, class by class: nothing crashes, hangs past 60 s, trains on NaN or exits 0
with a wrong result; every failure is exit status 1 with one `error:` line naming the file, key, flag or row.
(Outputs that would overwrite inputs, the --save lock and resumed series: test_output_safety.py.)"""
import functools
import json
import os
import shutil
import stat
import unittest

import numpy as np
import torch
from safetensors.torch import load_file, save_file

import common
from common import TINY_DIR
from train_fixture import TinyModelCase, make_model_json


TIMEOUT = 60
omnitune = functools.partial(common.omnitune, check=False, timeout=TIMEOUT)


class HostileInput(TinyModelCase):

    def fails(self, args, *expected, timeout=TIMEOUT):
        """The command exits 1 with a single `error:` line on stderr holding every expected fragment."""
        r = omnitune(*args, timeout=timeout)
        self.assertEqual(r.returncode, 1, f"{args}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}")
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("error: "), r.stderr)
        for fragment in expected:
            self.assertIn(fragment, lines[0])
        return lines[0]

    def train_args(self, save, *extra, data=None, model_json=None, iters=2):
        return ["train", "--mm-data", data or self.data, "--mm-model", model_json or self.model_json, "--lr", "1e-3",
                "--train-iters", str(iters), "--save", save, "--device", "cpu", *extra]

    def config_with(self, name, change):
        """A copy of the tiny config directory with `change(config_dict)` applied."""
        d = self.path(name)
        os.makedirs(d)
        with open(os.path.join(TINY_DIR, "config.json")) as f:
            cfg = json.load(f)
        change(cfg)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        return d

    def data_with(self, name, rows, **basic):
        rows_path = self.path(name + ".jsonl")
        with open(rows_path, "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        with open(self.data) as f:
            cfg = json.load(f)
        cfg["dataset_param"]["basic_parameters"].update(dataset=rows_path, **basic)
        path = self.path(name + ".json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    # ---- crashes --------------------------------------------------------------------------------------
    def test_yaml_alias_bomb_is_refused_before_expansion(self):
        bomb = self.path("bomb.yaml")
        with open(bomb, "w") as f:
            f.write("a0: &a0 [x, x, x, x, x, x, x, x, x]\n")
            for i in range(1, 10):
                f.write(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n")
        self.assertLess(os.path.getsize(bomb), 1024)  # 9^9 = 387M values
        self.fails(self.train_args(self.path("bomb_save"), "--fsdp2-config", bomb), bomb, "expands to more than")

    def test_zero_and_negative_sizes_name_the_key(self):
        cases = {"audio_heads": (lambda c: c["thinker_config"]["audio_config"].update(encoder_attention_heads=0),
                                 "audio_config.encoder_attention_heads: must be >= 1, got 0"),
                 "n_window": (lambda c: c["thinker_config"]["audio_config"].update(n_window=0),
                              "audio_config.n_window: must be >= 1, got 0"),
                 "merge": (lambda c: c["thinker_config"]["vision_config"].update(spatial_merge_size=0),
                           "vision_config.spatial_merge_size: must be >= 1, got 0"),
                 "negative": (lambda c: c["thinker_config"]["text_config"].update(hidden_size=-10),
                              "text_config.hidden_size: must be >= 1, got -10"),
                 "eps": (lambda c: c["thinker_config"]["text_config"].update(rms_norm_eps=-1),
                         "text_config.rms_norm_eps: must be > 0, got -1"),
                 "model_type": (lambda c: c.update(model_type="llama"), "model_type: 'llama' is not a Qwen3-Omni model"),
                 "sparse_step": (lambda c: c["thinker_config"]["text_config"].update(decoder_sparse_step=0),
                                 "decoder_sparse_step: must be >= 1"),
                 "huge": (lambda c: c["thinker_config"]["text_config"].update(vocab_size=10 ** 13),
                          "more than this machine's")}
        for name, (change, message) in cases.items():
            with self.subTest(name):
                d = self.config_with("cfg_" + name, change)
                self.fails(["init-model", "--config", d, "--out", self.path("out_" + name)], os.path.join(d, "config.json"),
                           message)
                self.assertFalse(os.path.exists(self.path("out_" + name)))
                if name != "huge":  # inspect counts a huge model on the meta device: that one is fine
                    self.fails(["inspect", d], os.path.join(d, "config.json"), message)

    def test_duplicate_json_keys_are_errors(self):
        dup = self.path("dup_model.json")
        with open(self.model_json) as f:
            text = f.read()
        with open(dup, "w") as f:
            f.write(text.replace('"model_id": "qwen3_omni_moe",', '"model_id": "qwen3_omni_moe", "model_id": "x",', 1))
        self.fails(self.train_args(self.path("dup_save"), model_json=dup), dup, "key 'model_id' appears twice")

    # ---- hangs ----------------------------------------------------------------------------------------
    def test_an_epoch_of_skipped_rows_stops_with_an_error(self):
        missing = [{"messages": [{"role": "user", "content": "<image>What?"}, {"role": "assistant", "content": "No."}],
                    "images": [f"media/nowhere{i}.png"]} for i in range(3)]
        data = self.data_with("all_missing", missing, on_bad_sample="skip")
        line = self.fails(self.train_args(self.path("skip_save"), data=data, iters=5), "every row of a whole epoch was skipped")
        self.assertIn("nowhere", line)
        long_rows = [{"messages": [{"role": "user", "content": "word " * 400 + "<image>"},
                                   {"role": "assistant", "content": "ok"}], "images": ["media/red.png"]}] * 3
        data = self.data_with("all_long", long_rows, on_overlong="skip", cutoff_len=64)
        self.fails(self.train_args(self.path("long_save"), data=data, iters=5), "every row of a whole epoch was skipped",
                   "cut through a media block")

    def test_repeated_skips_are_logged_once(self):
        rows = [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]},
                {"messages": [{"role": "robot", "content": "Hi"}, {"role": "assistant", "content": "Beep."}]}]
        data = self.data_with("one_bad", rows, on_bad_sample="skip")
        r = omnitune(*self.train_args(self.path("once_save"), data=data, iters=6))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("skipping bad sample"), 1, r.stdout)
        self.assertIn("samples 6, skipped bad 5,", r.stdout)  # good, bad, good, ...: counted as handed out, not as built ahead

    def test_many_star_freeze_patterns_are_fast_and_checked(self):
        extra = {"freeze": ["*a*a*a*a*a*a*a*a*a*a*a*a*z"]}
        model_json = make_model_json(self.mkdir("stars"), self.model, extra=extra)
        self.fails(self.train_args(self.path("stars_save"), model_json=model_json), "matches no module")
        model_json = make_model_json(self.mkdir("range"), self.model, extra={"freeze": ["model.layers.{1-2-3}"]})
        self.fails(self.train_args(self.path("range_save"), model_json=model_json), "freeze[0]: pattern 'model.layers.{1-2-3}'")

    def test_a_fifo_is_refused_without_blocking(self):
        fifo = self.path("weights.fifo")
        os.mkfifo(fifo)
        self.fails(["inspect", fifo], fifo, "not a regular file")
        fifo_json = self.path("data.fifo.json")
        os.mkfifo(fifo_json)
        self.fails(self.train_args(self.path("fifo_save"), data=fifo_json), fifo_json, "not a regular file")

    # ---- silently wrong -------------------------------------------------------------------------------
    def test_non_finite_and_out_of_range_flags(self):
        save = self.path("flags_save")
        base = self.train_args(save)
        for flag, value, message in (("--lr", "nan", "--lr: 'nan' is not a finite number"),
                                     ("--lr", "inf", "--lr: 'inf' is not a finite number"),
                                     ("--weight-decay", "nan", "--weight-decay: 'nan' is not a finite number"),
                                     ("--lr", "-1", "--lr: must be >= 0"),
                                     ("--adam-beta2", "1", "--adam-beta2: must be in [0"),
                                     ("--train-iters", "99999999999999999999", "does not fit a 64-bit integer"),
                                     ("--seed", "-1", "--seed: must be >= 0"),
                                     ("--micro-batch-size", "abc", "--micro-batch-size: 'abc' is not an integer")):
            with self.subTest(flag=flag, value=value):
                args = list(base)
                if flag in args:
                    args[args.index(flag) + 1] = value
                else:
                    args += [flag, value]
                self.fails(args, message)
        self.fails(base + ["--global-batch-size", "4611686018427387904", "--micro-batch-size", "2"], "do not fit")
        self.fails(["init-model", "--config", TINY_DIR, "--out", self.path("seed_out"), "--seed", "-1"], "--seed: must be >= 0")
        self.fails(["init-model", "--config", TINY_DIR, "--out", self.path("shard_out"), "--max-shard-size", "20000000000GB"],
                   "--max-shard-size '20000000000GB': must be at least 1 byte")
        self.assertFalse(os.path.exists(save))

    def test_non_finite_audio_is_rejected_when_read(self):
        wav = os.path.join(self.root, "media", "nan.wav")
        samples = np.sin(np.arange(16000) / 10).astype("<f4")
        samples[1234] = np.nan
        with open(wav, "wb") as f:  # a float32 WAV (format 3)
            data = samples.tobytes()
            f.write(b"RIFF" + (36 + len(data)).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little"))
            f.write((3).to_bytes(2, "little") + (1).to_bytes(2, "little") + (16000).to_bytes(4, "little"))
            f.write((64000).to_bytes(4, "little") + (4).to_bytes(2, "little") + (32).to_bytes(2, "little"))
            f.write(b"data" + len(data).to_bytes(4, "little") + data)
        rows = [{"messages": [{"role": "user", "content": "<audio>Hear?"}, {"role": "assistant", "content": "Yes."}],
                 "audios": ["media/nan.wav"]}]
        data = self.data_with("nan_audio", rows)
        self.fails(self.train_args(self.path("nan_save"), data=data), "nan.wav", "sample 1234", "only finite samples")

    def test_non_finite_loss_stops_before_the_step(self):
        # Weights with an infinity: the very first loss is NaN; nothing may be saved.
        bad = self.path("inf_model")
        shutil.copytree(self.model, bad)
        weights = load_file(os.path.join(bad, "model.safetensors"))
        weights["thinker.lm_head.weight"][3, 5] = float("inf")
        save_file(weights, os.path.join(bad, "model.safetensors"), metadata={"format": "pt"})
        model_json = make_model_json(self.mkdir("inf"), bad)
        save = self.path("inf_save")
        line = self.fails(self.train_args(save, "--save-interval", "1", model_json=model_json),
                          "iteration 1: the loss is nan", "rows.jsonl row 0", "stopped before the optimizer step")
        self.assertFalse(any(n.startswith("iter_") for n in os.listdir(save)), line)

    def test_checkpoint_directories_resolve_as_transformers_does(self):
        both = self.path("both")
        shutil.copytree(self.model, both)
        other = self.path("other_model")
        omnitune("init-model", "--config", TINY_DIR, "--out", other, "--seed", "9", "--max-shard-size", "5MB")
        for f in os.listdir(other):
            if f.startswith("model-") or f.endswith(".index.json"):
                shutil.copy(os.path.join(other, f), both)
        batch = self.path("batch.safetensors")
        self.assertEqual(omnitune("data", "dump", "--mm-data", self.data, "--index", "2", "--out", batch).returncode, 0)
        outs = {}
        for label, model in (("single", self.model), ("both", both)):
            out = self.path(f"fwd_{label}.safetensors")
            r = omnitune("forward", "--model", model, "--batch", batch, "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            outs[label] = (load_file(out)["logits"], r.stdout)
        self.assertTrue(torch.equal(outs["single"][0], outs["both"][0]))  # model.safetensors, not the shards
        self.assertIn("reading model.safetensors as transformers does", outs["both"][1])
        # An index naming a shard that is not there: an error, not "no weights".
        broken = self.path("broken_index")
        os.makedirs(broken)
        shutil.copy(os.path.join(other, "config.json"), broken)
        shutil.copy(os.path.join(other, "model.safetensors.index.json"), broken)
        self.fails(["inspect", broken], "points at missing shard")

    def test_safetensors_must_account_for_every_byte(self):
        good = os.path.join(self.model, "model.safetensors")
        junk = self.path("junk.safetensors")
        shutil.copy(good, junk)
        with open(junk, "ab") as f:
            f.write(b"\0" * 16)
        self.fails(["inspect", junk], junk, "16 bytes after the last tensor's data belong to no tensor")

    def test_resume_state_is_checked(self):
        save = self.path("state_save")
        self.assertEqual(omnitune(*self.train_args(save)).returncode, 0)
        state = os.path.join(save, "iter_0000002", "trainer_state.json")
        os.chmod(state, stat.S_IWUSR | stat.S_IRUSR)
        with open(state) as f:
            s = json.load(f)
        s["iteration"] = -4
        with open(state, "w") as f:
            json.dump(s, f)
        self.fails(self.train_args(save, "--load", save, iters=4), state, "$.iteration: must be >= 0, got -4")

    def test_forward_batches_are_checked(self):
        batch = self.path("fwd_batch.safetensors")
        self.assertEqual(omnitune("data", "dump", "--mm-data", self.data, "--index", "0", "--out", batch).returncode, 0)
        good = load_file(batch)
        cases = {"empty": ({"input_ids": torch.zeros(1, 0, dtype=torch.long)}, "input_ids must be [batch, sequence]"),
                 "labels": ({**good, "labels": torch.full_like(good["labels"], -5)}, "labels: -5 is neither -100"),
                 "no_pixels": ({k: v for k, v in good.items() if k not in ("pixel_values", "image_grid_thw")},
                               "<|image_pad|> tokens but no pixel_values"),
                 "grid_only": ({k: v for k, v in good.items() if k != "pixel_values"}, "image_grid_thw is given without pixel_values"),
                 "nan": ({**good, "pixel_values": good["pixel_values"] * float("nan")}, "pixel_values holds NaN")}
        for name, (tensors, message) in cases.items():
            with self.subTest(name):
                path = self.path(f"bad_{name}.safetensors")
                save_file(tensors, path)
                self.fails(["forward", "--model", self.model, "--batch", path, "--out", self.path(f"o_{name}.safetensors")],
                           path, message)

    # ---- unclear --------------------------------------------------------------------------------------
    def test_parse_errors_are_status_1_with_error_prefix(self):
        self.fails(["inspect", self.model, "--no-such-flag"], "--no-such-flag")
        self.fails(["inspect"], "path is required")
        self.fails(["train", "--mm-data"], "--mm-data")
        self.assertEqual(omnitune("train", "--help").returncode, 0)

    def test_large_valid_image_is_named_too_large_not_corrupt(self):
        from PIL import Image
        Image.MAX_IMAGE_PIXELS = None
        Image.new("L", (20000, 20000), 128).save(os.path.join(self.root, "media", "huge.png"))
        rows = [{"messages": [{"role": "user", "content": "<image>What?"}, {"role": "assistant", "content": "Grey."}],
                 "images": ["media/huge.png"]}]
        data = self.data_with("huge", rows)
        self.fails(["data", "dump", "--mm-data", data, "--index", "0", "--out", self.path("huge.safetensors")],
                   "huge.png", "20000x20000", "larger than the 178956970 pixels")

    def test_a_prompt_cut_by_the_budget_is_reported(self):
        rows = [{"messages": [{"role": "user", "content": "word " * 300}, {"role": "assistant", "content": "ok"}]}] * 2
        data = self.data_with("cut", rows, cutoff_len=64)
        r = omnitune(*self.train_args(self.path("cut_save"), data=data, iters=2))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("the seed's budget rule dropped"), 1, r.stdout)
        self.assertIn("shortened by cutoff_len 2", r.stdout)

    def test_metrics_path_that_is_a_directory(self):
        save = self.path("metrics_dir_save")
        os.makedirs(os.path.join(save, "metrics.jsonl"))
        self.fails(self.train_args(save), "metrics.jsonl", "is a directory")

    def mkdir(self, name):
        d = self.path(name)
        os.makedirs(d, exist_ok=True)
        return d


if __name__ == "__main__":
    unittest.main()
