"""`omnitune train` end to end on a tiny model and real media: the loss curve equals a transformers +
torch.optim.AdamW run of the same weights, data, schedule and clipping (fp32, 1e-4 relative at every
step); resuming is bit-exact; --no-load-optim keeps weights and position but restarts the optimizer;
TensorBoard's reader sees the scalars; bad input fails before anything is written."""
import json
import math
import os
import unittest

import torch
from safetensors.torch import load_file
from transformers import Qwen3OmniMoeForConditionalGeneration

from measure import run_measured
from train_fixture import PAD_ID, TinyModelCase, make_model_json, read_metrics
from common import OMNITUNE, SOURCE_DIR, omnitune

LR, MIN_LR, WARMUP, STEPS, CLIP, WD = 2e-3, 1e-4, 0.1, 16, 1.0, 0.01


def megatron_lr(step, lr=LR, min_lr=MIN_LR, warmup=WARMUP * STEPS, decay=STEPS):
    """Megatron's OptimizerParamScheduler.get_lr for cosine decay (the seed's script semantics)."""
    if warmup > 0 and step <= warmup:
        return lr * step / warmup
    if step > decay:
        return min_lr
    ratio = (step - warmup) / (decay - warmup)
    return min_lr + (lr - min_lr) * 0.5 * (math.cos(math.pi * ratio) + 1)


def padded(sample, multiple=8):
    """The collator's right padding of one sample (input_ids <|endoftext|>, attention 0, labels -100)."""
    s = sample["input_ids"].shape[-1]
    extra = -s % multiple
    out = dict(sample)
    for key, fill in (("input_ids", PAD_ID), ("attention_mask", 0), ("labels", -100)):
        out[key] = torch.nn.functional.pad(sample[key], (0, extra), value=fill)
    return out


class Train(TinyModelCase):
    rows = 8

    def train(self, save, *extra, iters=STEPS, check=True, mbs=1, gbs=1, style="cosine", data=None, model_json=None):
        return omnitune("train", "--mm-data", data or self.data, "--mm-model", model_json or self.model_json,
                   "--micro-batch-size", str(mbs),
                   "--global-batch-size", str(gbs), "--lr", str(LR), "--min-lr", str(MIN_LR), "--lr-decay-style", style,
                   "--lr-warmup-fraction", str(WARMUP), "--weight-decay", str(WD), "--clip-grad", str(CLIP),
                   "--train-iters", str(iters), "--lr-decay-iters", str(STEPS), "--log-interval", "1", "--seed", "5",
                   "--save", save, "--device", "cpu", *extra, check=check)

    def test_loss_curve_equals_transformers(self):
        save = os.path.join(self.root, "parity")
        self.train(save)
        ours = read_metrics(save)
        self.assertEqual([m["iteration"] for m in ours], list(range(1, STEPS + 1)))

        samples = []
        for i in range(8):
            out = os.path.join(self.root, f"sample{i}.safetensors")
            omnitune("data", "dump", "--mm-data", self.data, "--index", str(i), "--out", out)
            samples.append(padded(load_file(out)))
        torch.manual_seed(0)
        thinker = Qwen3OmniMoeForConditionalGeneration.from_pretrained(self.model, dtype=torch.float32).thinker.train()
        params = list(thinker.parameters())
        opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD, foreach=False)
        for step in range(STEPS):
            for group in opt.param_groups:
                group["lr"] = megatron_lr(step)
            batch = samples[step % len(samples)]  # shuffle off, one sample per step: rows in order
            loss = thinker(**batch).loss
            loss.backward()  # a tower without input this step leaves its .grad None: AdamW skips it
            norm = torch.nn.utils.clip_grad_norm_(params, CLIP)
            opt.step()
            opt.zero_grad(set_to_none=True)
            m = ours[step]
            self.assertAlmostEqual(m["lr"], megatron_lr(step), delta=1e-12 + 1e-9 * LR)
            self.assertLessEqual(abs(m["loss"] - loss.item()) / abs(loss.item()), 1e-4,
                                 f"step {step + 1}: ours {m['loss']} transformers {loss.item()}")
            self.assertLessEqual(abs(m["grad_norm"] - norm.item()) / norm.item(), 1e-3, f"grad norm, step {step + 1}")
        first, last = ours[0]["loss"], sum(m["loss"] for m in ours[-4:]) / 4
        self.assertLess(last, first - 1.0, f"the loss should fall clearly: {first} -> {last}")
        self.assertTrue(os.path.exists(os.path.join(save, "loss_curve.svg")))

    def data_variant(self, name, basic=None, rows_file=None):
        """A copy of the test data.json with basic_parameters updated (and another dataset file)."""
        with open(self.data) as f:
            cfg = json.load(f)
        cfg["dataset_param"]["basic_parameters"].update(basic or {})
        if rows_file:
            cfg["dataset_param"]["basic_parameters"]["dataset"] = rows_file
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def test_idle_towers_are_left_alone_as_torch_adamw_does(self):
        """MBS 2, rows in order (image+audio, text+image, ...): every second step has no audio. Four steps with
        weight decay equal transformers + torch.optim.AdamW, which skips parameters whose .grad is None."""
        save = os.path.join(self.root, "idle_towers")
        self.train(save, iters=4, mbs=2, gbs=2)
        ours = read_metrics(save)
        batches = []
        for first in range(0, 8, 2):
            out = os.path.join(self.root, f"pair{first}.safetensors")
            omnitune("data", "dump", "--mm-data", self.data, "--index", str(first), str(first + 1), "--out", out)
            batches.append(padded(load_file(out)))
        self.assertFalse(any("input_features" in b for b in batches[1::2]), "every second micro-batch has no audio")
        thinker = Qwen3OmniMoeForConditionalGeneration.from_pretrained(self.model, dtype=torch.float32).thinker.train()
        params = list(thinker.parameters())
        opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD, foreach=False)
        for step in range(4):
            for group in opt.param_groups:
                group["lr"] = megatron_lr(step)
            loss = thinker(**batches[step]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, CLIP)
            opt.step()
            opt.zero_grad(set_to_none=True)
            self.assertLessEqual(abs(ours[step]["loss"] - loss.item()) / abs(loss.item()), 1e-5,
                                 f"step {step + 1}: ours {ours[step]['loss']} transformers {loss.item()}")

    def test_streaming_trains_like_in_memory_and_resumes(self):
        """streaming: true trains on the same rows in the same order as the in-memory dataset (same losses),
        and a resumed streaming run continues at exactly the next row. max_samples above the row count is a
        cap: both runs use the 8 rows and say so."""
        memory = self.data_variant("data_capped.json", {"max_samples": 1000})
        stream = self.data_variant("data_stream.json", {"max_samples": 1000, "streaming": True})
        a_dir, b_dir, c_dir = (os.path.join(self.root, n) for n in ("in_memory", "streamed", "streamed_resumed"))
        for data, save in ((memory, a_dir), (stream, b_dir)):
            r = self.train(save, iters=4, data=data)
            self.assertIn("using 8 of 8 rows (max_samples 1000)", r.stdout)
        a, b = read_metrics(a_dir), read_metrics(b_dir)
        self.assertEqual(len(b), 4)
        for x, y in zip(a, b):
            self.assertEqual((x["loss"], x["grad_norm"]), (y["loss"], y["grad_norm"]), x["iteration"])
        self.train(c_dir, iters=2, data=stream)
        with open(os.path.join(c_dir, "iter_0000002", "trainer_state.json")) as f:
            self.assertEqual(json.load(f)["sampler"], {"epoch": 0, "position": 2, "ranks": 1})
        r = self.train(c_dir, "--load", c_dir, iters=4, data=stream)
        self.assertIn("resuming at iteration 2", r.stdout + r.stderr)
        c = read_metrics(c_dir)
        self.assertEqual([m["iteration"] for m in c], list(range(1, 5)))
        for x, y in zip(b, c):
            self.assertEqual((x["loss"], x["grad_norm"]), (y["loss"], y["grad_norm"]), x["iteration"])

    def test_streaming_training_memory_is_flat_in_rows(self):
        """Peak RSS of 2 streaming training steps over 2k and over 60k text rows differs by less than 20 MB;
        the in-memory dataset of the 60k rows costs visibly more (the measurement can see dataset size)."""
        peaks = {}
        for n in (2_000, 60_000):
            rows = os.path.join(self.root, f"text{n}.jsonl")
            with open(rows, "w") as f:
                for i in range(n):
                    f.write(json.dumps({"messages": [{"role": "user", "content": f"Question {i}: " + "words " * 40},
                                                     {"role": "assistant", "content": f"Answer {i}."}]}) + "\n")
            for streaming in (True, False):
                if not streaming and n != 60_000:
                    continue
                data = self.data_variant(f"text{n}_{streaming}.json", {"streaming": streaming}, rows_file=rows)
                peaks[(n, streaming)] = self.peak_rss_mb(os.path.join(self.root, f"rss{n}_{streaming}"), data)
        print(f"\npeak RSS of 2 training steps: streaming 2k rows {peaks[(2000, True)]:.1f} MB, 60k rows "
              f"{peaks[(60000, True)]:.1f} MB; in memory 60k rows {peaks[(60000, False)]:.1f} MB", flush=True)
        self.assertLess(abs(peaks[(60000, True)] - peaks[(2000, True)]), 20)
        self.assertGreater(peaks[(60000, False)] - peaks[(60000, True)], 20)

    def peak_rss_mb(self, save, data):
        _, peak = run_measured(OMNITUNE, "train", "--mm-data", data, "--mm-model", self.model_json, "--micro-batch-size",
                               "1", "--lr", str(LR), "--train-iters", "2", "--save", save, "--device", "cpu")
        return peak / 2**20

    def test_resume_is_bit_exact(self):
        straight, split, fresh = (os.path.join(self.root, n) for n in ("straight", "split", "fresh_optim"))
        tb = os.path.join(self.root, "tb")
        self.train(straight, "--save-interval", "3", "--tensorboard-dir", tb, iters=6)
        self.train(split, iters=3)
        r = self.train(split, "--load", split, iters=6)
        self.assertIn("resuming at iteration 3", r.stdout + r.stderr)
        a, b = read_metrics(straight), read_metrics(split)
        self.assertEqual([m["iteration"] for m in b], list(range(1, 7)))  # the resumed run appends
        for x, y in zip(a, b):
            self.assertEqual((x["loss"], x["grad_norm"], x["lr"]), (y["loss"], y["grad_norm"], y["lr"]), x["iteration"])
        for name in ("model.safetensors", "optimizer.safetensors"):
            ta = load_file(os.path.join(straight, "iter_0000006", name))
            tb_ = load_file(os.path.join(split, "iter_0000006", name))
            self.assertEqual(sorted(ta), sorted(tb_))
            for k in ta:
                self.assertTrue(torch.equal(ta[k], tb_[k]), f"{name}: {k}")
        with open(os.path.join(split, "latest_checkpointed_iteration.txt")) as f:
            self.assertEqual(f.read().strip(), "6")

        # --no-load-optim: weights, iteration and data position resume; AdamW starts over.
        self.train(fresh, "--load", os.path.join(straight, "iter_0000003"), "--no-load-optim", iters=5)
        c = read_metrics(fresh)
        self.assertEqual([m["iteration"] for m in c], [4, 5])
        self.assertEqual(c[0]["loss"], a[3]["loss"])  # same weights, same sample: same loss before the update
        self.assertNotEqual(c[1]["loss"], a[4]["loss"])  # a fresh optimizer moves the weights differently

        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        events = EventAccumulator(tb)
        events.Reload()
        self.assertIn("train/loss", events.Tags()["scalars"])
        tb_loss = [(e.step, e.value) for e in events.Scalars("train/loss")]
        self.assertEqual([s for s, _ in tb_loss], list(range(1, 7)))
        for (step, value), m in zip(tb_loss, a):
            self.assertAlmostEqual(value, m["loss"], delta=1e-6 * abs(m["loss"]))

    def test_bf16_compute_from_the_fsdp2_yaml(self):
        """param_dtype: bf16 computes in bf16 over fp32 masters: the loss curve follows the fp32 run's up to
        bf16 rounding, and the checkpoint holds fp32 weights."""
        fp32, bf16 = os.path.join(self.root, "fp32"), os.path.join(self.root, "bf16")
        yaml = os.path.join(SOURCE_DIR, "examples", "qwen3omni", "fsdp2_config.yaml")
        self.train(fp32, iters=8, style="constant")
        r = self.train(bf16, "--fsdp2-config", yaml, "--save-interval", "8", iters=8, style="constant")
        self.assertIn("param_dtype bf16 is the compute dtype", r.stdout + r.stderr)
        a, b = read_metrics(fp32), read_metrics(bf16)
        diffs = [abs(x["loss"] - y["loss"]) / x["loss"] for x, y in zip(a, b)]
        self.assertEqual(len(diffs), 8)
        self.assertGreater(max(diffs), 0, "bf16 compute should round differently from fp32")
        self.assertLess(max(diffs), 2e-2, f"fp32 {[m['loss'] for m in a]}\nbf16 {[m['loss'] for m in b]}")
        self.assertLess(b[-1]["loss"], b[0]["loss"] - 1.0)
        weights = load_file(os.path.join(bf16, "iter_0000008", "model.safetensors"))
        self.assertEqual({v.dtype for v in weights.values()}, {torch.float32})

    def test_keep_towers_active_changes_no_loss(self):
        """keep_towers_active adds masked fake media to micro-batches without images or audio (text rows here):
        every tower runs, and the loss curve stays that of the plain run. The towers are frozen here: trained,
        they would get zero gradients from the fake media and AdamW would step them (decay, moments), as torch
        does for a zero gradient, while the plain run leaves an idle tower alone."""
        with open(self.data) as f:
            cfg = json.load(f)
        cfg["dataloader_param"]["keep_towers_active"] = True
        data = os.path.join(self.root, "data_keep_towers.json")
        with open(data, "w") as f:
            json.dump(cfg, f)
        plain, towers = os.path.join(self.root, "towers_off"), os.path.join(self.root, "towers_on")
        frozen = {"image_encoder": {"vision_encoder": {"freeze": True, "attn_implementation": "sdpa"},
                                    "vision_projector": {"freeze": True}},
                  "audio_encoder": {"audio_encoder": {"freeze": True, "attn_implementation": "sdpa"}}}
        os.makedirs(os.path.join(self.root, "frozen_towers"))
        model_json = make_model_json(os.path.join(self.root, "frozen_towers"), self.model, extra=frozen)
        self.train(plain, iters=4, model_json=model_json)
        self.train(towers, iters=4, data=data, model_json=model_json)
        a, b = read_metrics(plain), read_metrics(towers)
        self.assertEqual(len(b), 4)
        for x, y in zip(a, b):
            self.assertLessEqual(abs(x["loss"] - y["loss"]) / x["loss"], 1e-5, x["iteration"])

    def test_bad_input(self):
        save = os.path.join(self.root, "bad")
        r = self.train(save, iters=2, check=False, mbs=2, gbs=3)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a multiple of --micro-batch-size", r.stderr)
        self.assertFalse(os.path.exists(save))
        r = self.train(save, "--load", os.path.join(self.root, "nowhere"), iters=2, check=False)
        self.assertIn("nowhere: no such file or directory", r.stderr)
        r = self.train(save, iters=2, check=False, style="cosin")
        self.assertIn("did you mean 'cosine'", r.stderr)
        r = self.train(save, "--tensor-model-parallel-size", "2", iters=2, check=False)
        self.assertIn("not supported yet", r.stderr)
        r = self.train(save, "--context-parallel-size", "2", iters=2, check=False)
        self.assertIn("--context-parallel-size 2 does not divide the 1 ranks", r.stderr)
        r = self.train("/proc/omnitune-cannot-write", iters=2, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--save /proc/omnitune-cannot-write", r.stderr)
        self.assertFalse(os.path.exists(save))


if __name__ == "__main__":
    unittest.main()
