"""Helpers of the multi-rank tests: launching a job of N ranks on loopback, the run arguments shared by every
multi-rank test, and comparisons of runs and of checkpoints."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from train_fixture import TinyModelCase, make_dataset, read_metrics
from common import OMNITUNE, omnitune

GBS, STEPS = 6, 6  # 6 divides over 1, 2 and 3 ranks; 6 steps: warm-up, cosine decay, a resume at 3
HALF = STEPS // 2
TORCHRUN = os.path.join(os.path.dirname(sys.executable), "torchrun")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(nproc, *train_args, extra=(), check=True, timeout=600):
    cmd = [OMNITUNE, "launch", "--nproc-per-node", str(nproc), "--master-port", str(free_port()), *extra, "--",
           "train", *map(str, train_args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def children_of(pid):
    """The pids whose parent is `pid` (from /proc: no procps needed)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(entry)
            except (OSError, IndexError, ValueError):
                pass
    return out


def recompute_offload_frozen(cfg):
    """model.json edit: recompute (text, vision), activation offload (audio), a frozen vision projector."""
    cfg["text_decoder"]["recompute"] = True
    cfg["image_encoder"]["vision_encoder"]["recompute"] = True
    cfg["image_encoder"]["vision_projector"]["freeze"] = True
    cfg["audio_encoder"]["audio_encoder"]["activation_offload"] = True


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def model_tensors(d):
    """The model tensors of a checkpoint or export directory: model.safetensors, its shards, or the blocks of
    rows of a sharded job (placed by their DCP_SHARDING_INFO offsets)."""
    blocks = {}
    for f in sorted(os.listdir(d)):
        if f.startswith("model") and f.endswith(".safetensors"):
            path = os.path.join(d, f)
            with safe_open(path, "pt") as handle:
                info = json.loads((handle.metadata() or {}).get("DCP_SHARDING_INFO", "{}"))
            for k, v in load_file(path).items():
                blocks.setdefault(k, []).append((info[k]["saved_offsets"][0] if k in info else 0, v))
    return {k: torch.cat([v for _, v in sorted(parts, key=lambda p: p[0])]) for k, parts in blocks.items()}


class MaxDiff(float):
    """A largest difference that names its tensor in assertion messages."""
    def __new__(cls, value, tensor):
        self = super().__new__(cls, value)
        self.tensor = tensor
        return self

    def __repr__(self):
        return f"{float(self)!r} ({self.tensor})"


def weights_max_diff(a_dir, b_dir):
    """The largest |a - b| over every element of every model tensor of two checkpoint or export directories."""
    a, b = model_tensors(a_dir), model_tensors(b_dir)
    assert a.keys() == b.keys(), sorted(a.keys() ^ b.keys())
    return MaxDiff(*max(((a[k].double() - b[k].double()).abs().max().item(), k) for k in b))


class DistributedCase(TinyModelCase):
    """A tiny model, 12 shuffled rows of mixed media, and runs of it on 1 or more ranks (cached by name)."""
    rows = 12  # divides every world size and global batch used here: the epochs hold the same rows

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # One thread in every process, the single-process reference included: a GEMM rounds differently on 1 and
        # 2 threads (3e-5 apart on one element after 2 steps here, an AVX2 CPU), and launch would give the ranks
        # cores / ranks threads.
        os.environ["OMP_NUM_THREADS"] = "1"
        cls.data = make_dataset(cls.root, cls.model, rows=cls.rows, shuffle=True)
        cls.runs = {}

    def args(self, save, iters=STEPS, gbs=GBS, data=None, extra=(), timeout_minutes=1, model_json=None, mbs=1):
        return ["--mm-data", data or self.data, "--mm-model", model_json or self.model_json, "--micro-batch-size", str(mbs),
                "--global-batch-size", str(gbs), "--lr", "2e-3", "--min-lr", "1e-4", "--lr-decay-style", "cosine",
                "--lr-warmup-iters", "1", "--weight-decay", "0.01", "--clip-grad", "1.0", "--train-iters", str(iters),
                "--lr-decay-iters", str(STEPS), "--log-interval", "1", "--seed", "5", "--save", save, "--device",
                "cpu", "--distributed-timeout-minutes", str(timeout_minutes), *extra]

    def run_on(self, world, name=None, **kw):
        """metrics.jsonl of a run on `world` ranks (cached by name)."""
        name = name or f"world{world}"
        if name not in self.runs:
            save = self.path(name)
            if world == 1:
                omnitune("train", *self.args(save, **kw))
            else:
                launch(world, *self.args(save, **kw))
            self.runs[name] = read_metrics(save)
        return self.runs[name]

    def assert_same_curve(self, ours, ref, label, tol=1e-6):
        self.assertEqual([m["iteration"] for m in ours], [m["iteration"] for m in ref], label)
        for m, r in zip(ours, ref):
            self.assertLessEqual(rel(m["loss"], r["loss"]), tol, f"{label} step {r['iteration']}: loss")
            self.assertLessEqual(rel(m["grad_norm"], r["grad_norm"]), 1e-5, f"{label} step {r['iteration']}: grad")
            self.assertEqual(m["tokens"], r["tokens"], label)
            self.assertEqual(m["lr"], r["lr"], label)


    def resume_copy(self, source, world, extra=(), at=None, **kw):
        """metrics.jsonl of a copy of run `source` resumed on `world` ranks from its last checkpoint, or from
        that of iteration `at` (the later ones removed from the copy)."""
        save = self.path(f"resume_{source}_on_{world}")
        shutil.copytree(self.path(source), save)
        os.remove(os.path.join(save, "metrics.jsonl"))
        if at is not None:
            for entry in os.listdir(save):
                if entry.startswith("iter_") and int(entry[len("iter_"):]) > at:
                    shutil.rmtree(os.path.join(save, entry))
            with open(os.path.join(save, "latest_checkpointed_iteration.txt"), "w") as f:
                f.write(str(at))
        args = self.args(save, extra=("--load", save, *extra), **kw)
        if world == 1:
            omnitune("train", *args)
        else:
            launch(world, *args)
        return read_metrics(save)

    def kill_rank_1_and_resume(self, save, extra=(), stop=False):
        """3 ranks run until their checkpoint of step 2; rank 1 is SIGKILLed (or, `stop`, SIGSTOPped: it stops
        answering and closes nothing): the job ends within 60 s, the survivors name the lost rank, launch names
        the first rank that ended; one process resumes the checkpoint."""
        cmd = [OMNITUNE, "launch", "--nproc-per-node", "3", "--master-port", str(free_port()), "--", "train",
               *self.args(save, iters=10000, gbs=3, extra=("--save-interval", "2", *extra))]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.time() + 300
            while not os.path.exists(os.path.join(save, "iter_0000002")) and time.time() < deadline:
                self.assertIsNone(p.poll(), "the job ended early")
                time.sleep(0.2)
            self.assertTrue(os.path.exists(os.path.join(save, "iter_0000002")), "no checkpoint within 300 s")
            children = children_of(p.pid)
            victim = None
            for pid in children:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if b"RANK=1" in f.read().split(b"\0"):
                        victim = int(pid)
            self.assertIsNotNone(victim, children)
            killed_at = time.time()
            os.kill(victim, signal.SIGSTOP if stop else signal.SIGKILL)
            out = p.communicate(timeout=90)[0]
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertLess(time.time() - killed_at, 60, out[-3000:])
        self.assertNotEqual(p.returncode, 0, out[-3000:])
        self.assertIn("failed with exit status 1" if stop else f"rank 1 (pid {victim}) failed with signal 9", out)
        self.assertIn("lost contact with rank 1", out)  # the surviving ranks name it themselves
        omnitune("train", *self.args(save, iters=4, gbs=3, extra=("--load", save)))
        self.assertEqual(read_metrics(save)[-1]["iteration"], 4)

    def mixed_media_data(self):
        """data.json over 8 rows alternating text and a video with its sound track (use_audio_in_video), in
        order: with 2 ranks and micro-batches of 1, rank 0 reads only text, rank 1 only video+audio."""
        data = self.path("mixed.json")
        if os.path.exists(data):
            return data
        os.makedirs(self.path("media"), exist_ok=True)
        clip = self.path("media", "clip.mp4")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=4", "-f",
                        "lavfi", "-i", "sine=frequency=300:sample_rate=16000", "-t", "1.5", "-c:v", "libx264",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", clip], check=True)
        rows = []
        for i in range(4):
            rows.append({"messages": [{"role": "user", "content": f"Count to {3 + i}."},
                                      {"role": "assistant", "content": " ".join(str(k) for k in range(1, 4 + i))}]})
            rows.append({"messages": [{"role": "user", "content": "<video>What do you see and hear?"},
                                      {"role": "assistant", "content": "Colour bars and a tone."}],
                         "videos": ["media/clip.mp4"]})
        rows_path = self.path("mixed.jsonl")
        with open(rows_path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        with open(self.data) as f:
            cfg = json.load(f)
        cfg["dataset_param"]["basic_parameters"]["dataset"] = rows_path
        cfg["dataloader_param"]["shuffle"] = False
        cfg["dataset_param"]["attr"]["videos"] = "videos"
        cfg["dataset_param"]["preprocess_parameters"].update(
            {"use_audio_in_video": True, "video_fps": 2.0, "video_maxlen": 8, "video_min_pixels": 256,
             "video_max_pixels": 4096})
        with open(data, "w") as f:
            json.dump(cfg, f)
        return data

    def model_json_with(self, name, edit):
        """A copy of the test model.json changed by edit(cfg), as <root>/<name>."""
        with open(self.model_json) as f:
            cfg = json.load(f)
        edit(cfg)
        path = self.path(name)
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path
