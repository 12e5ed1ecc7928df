"""Ulysses context parallelism on one machine: peak activation memory per rank of one training step on a
16K-token sample at CP 1, 2 and 4 (`omnitune launch`, Gloo over loopback), and its ratio to CP 1.

    .venv/bin/python bench/context_parallel.py [--build build]

Each CP size trains one step twice, on the long sample and on a short one (same model, same flags): the
activation memory of a rank is its peak RSS on the long sample minus its peak RSS on the short one (the model,
its gradient and AdamW state — sharded over the ranks by FSDP2 here, as in a real job —, the runtime). CP 1
runs as two data-parallel ranks, each with the whole sample, so that every run is sharded (FSDP2's gathered
units and gradient buffers are then in every column alike). The goal
is 1/CP of CP 1. What stays whole on every rank: the sample's embeddings before the cut, the chunked loss's
[256, vocabulary] fp32 logits buffer (156 MB) and one attention's full-sequence q/k/v for 1/CP of the heads
(an unpadded sample attends with no [S, S] mask). The losses must agree with CP 1.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "helpers"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from train_fixture import make_model_json, read_metrics  # noqa: E402
from data_parallel import bench_args, bench_model, config as wide_config, free_port  # noqa: E402


def long_data(root, model, words):
    """data.json with a text row of about `words` number words (over 2 tokens each) twice, and its short twin."""
    paths = []
    for name, n in (("long", words), ("short", 40)):
        row = {"messages": [{"role": "user", "content": "Repeat: " + " ".join(str(k % 997) for k in range(n))},
                            {"role": "assistant", "content": " ".join(str(k % 991) for k in range(n))}]}
        rows = os.path.join(root, f"{name}.jsonl")
        with open(rows, "w") as f:
            f.write((json.dumps(row) + "\n") * 2)
        with open(os.path.join(root, "data.json")) as f:
            cfg = json.load(f)
        cfg["dataset_param"]["basic_parameters"]["dataset"] = rows
        path = os.path.join(root, f"{name}.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        paths.append(path)
    return paths


def main():
    args, omnitune = bench_args(__doc__.split("\n")[0])
    tokens = 16384
    with tempfile.TemporaryDirectory() as root:
        model, _, _ = bench_model(omnitune, root, wide_config(hidden=256, heads=4, kv_heads=2, head_dim=64))
        model_json = make_model_json(root, model, loss_cfg={"loss_type": "default", "compute_mode": "chunk",
                                                           "chunk_size": 256})
        long_json, short_json = long_data(root, model, tokens // 3)
        yaml = os.path.join(root, "fsdp2.yaml")  # the parameters sharded over the CP ranks, as in a real job
        with open(yaml, "w") as f:
            f.write("sharding_size: auto\nparam_dtype: fp32\nreduce_dtype: fp32\n")
        results = {}
        for cp in (1, 2, 4):
            for name, data in (("long", long_json), ("short", short_json)):
                save = os.path.join(root, f"{name}{cp}")
                ranks = max(cp, 2)  # CP 1: two data-parallel ranks, each with the whole sample
                train = ["train", "--mm-data", data, "--mm-model", model_json, "--micro-batch-size", "1",
                         "--global-batch-size", str(ranks // cp), "--lr", "1e-4", "--train-iters", "1",
                         "--seq-length", str(tokens), "--seed", "1", "--device", "cpu", "--save", save,
                         "--context-parallel-size", str(cp), "--fsdp2-config", yaml]
                cmd = [omnitune, "launch", "--nproc-per-node", str(ranks), "--master-port", str(free_port()), "--",
                       *train]
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    sys.exit(f"{' '.join(cmd)} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
                results[name, cp] = read_metrics(save)[-1]
        base = results["long", 1]
        print(f"one step of a {results['long', 2]['tokens']}-token text sample; model: hidden 256, 4 layers, 4 heads "
              "(2 K/V)")
        print(f"{'CP':>3} {'peak RSS MB':>12} {'short MB':>9} {'activations MB':>15} {'ratio':>6} {'goal':>6} "
              f"{'loss diff':>10}")
        act_one = base["peak_memory_mb"] - results["short", 1]["peak_memory_mb"]
        for cp in (1, 2, 4):
            peak, short = results["long", cp]["peak_memory_mb"], results["short", cp]["peak_memory_mb"]
            diff = abs(results["long", cp]["loss"] - base["loss"]) / abs(base["loss"])
            print(f"{cp:>3} {peak:>12.0f} {short:>9.0f} {peak - short:>15.0f} {(peak - short) / act_one:>6.2f} "
                  f"{1 / cp:>6.2f} {diff:>10.1e}")


if __name__ == "__main__":
    main()
