"""FSDP2 parameter sharding on one machine: per-rank memory at 1, 2 and 4 ranks and step time with and without
prefetch at 2 ranks (`omnitune launch`, Gloo over loopback), same global batch, same weights and data.

    .venv/bin/python bench/sharding.py [--build build] [--steps 4]

Model state per rank (fp32 master rows + their gradient + the two AdamW moments) is read from what each rank
wrote into the final checkpoint (its model part, counted twice for the gradient, and its optimizer part): the
rows it holds, not an estimate. Peak RSS per rank is the process's measured maximum; it also holds what does
not shard (the libtorch runtime, activations, one gathered unit at a time, the batch). On a 2-core machine the
ranks share the cores: step times show the cost of the collectives, and prefetch can only overlap a gather with
compute where a core is free; a GPU cluster (NCCL on a side stream, compute on the device) is where it pays.
The losses of every run must agree with one process (1e-6 relative).
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "helpers"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from train_fixture import read_metrics  # noqa: E402
from data_parallel import bench_args, bench_model, config as wide_config, free_port  # noqa: E402


def config():
    """Tiny-model vocabulary, wider text model: about 300M parameters (most of them embedding and lm_head)."""
    return wide_config(hidden=896, heads=7, kv_heads=1, head_dim=128, moe_intermediate=512, mrope=(24, 20, 20))


def state_mb(checkpoint, rank, world):
    """Master rows + gradient + AdamW moments this rank held, from the files it wrote."""
    if world == 1:
        model, optim = "model.safetensors", "optimizer.safetensors"
    else:
        model, optim = (f"{stem}-{rank + 1:05d}-of-{world:05d}.safetensors" for stem in ("model", "optimizer"))
    size = lambda f: os.path.getsize(os.path.join(checkpoint, f))  # noqa: E731
    return (2 * size(model) + size(optim)) / 2**20


def main():
    args, omnitune = bench_args(__doc__.split("\n")[0])
    with tempfile.TemporaryDirectory() as root:
        model, data, model_json = bench_model(omnitune, root, config())
        params = os.path.getsize(os.path.join(model, "model.safetensors")) / 4  # fp32 on disk (close enough)
        runs = {"1 rank": (1, None), "2 ranks": (2, (1, 1)), "4 ranks": (4, (1, 1)), "2 ranks, no prefetch": (2, (0, 0))}
        results = {}
        for label, (world, prefetch) in runs.items():
            save = os.path.join(root, "run")
            train = ["train", "--mm-data", data, "--mm-model", model_json, "--micro-batch-size", "1",
                     "--global-batch-size", "4", "--lr", "1e-4", "--train-iters", str(args.steps), "--log-interval",
                     "1", "--seed", "1", "--device", "cpu", "--save", save]
            if prefetch:
                yaml = os.path.join(root, "fsdp2.yaml")
                with open(yaml, "w") as f:
                    f.write(f"sharding_size: auto\nparam_dtype: fp32\nreduce_dtype: fp32\n"
                            f"num_to_forward_prefetch: {prefetch[0]}\nnum_to_backward_prefetch: {prefetch[1]}\n")
                train += ["--fsdp2-config", yaml]
            cmd = [omnitune, *train] if world == 1 else [omnitune, "launch", "--nproc-per-node", str(world),
                                                          "--master-port", str(free_port()), "--", *train]
            subprocess.run(cmd, check=True, capture_output=True)
            last = os.path.join(save, f"iter_{args.steps:07d}")
            results[label] = (world, read_metrics(save), max(state_mb(last, r, world) for r in range(world)))
            shutil.rmtree(save)
        _, one, state_one = results["1 rank"]
        median = lambda m: sorted(r["ms_per_iter"] for r in m[1:])[len(m[1:]) // 2]  # noqa: E731  first step left out
        print(f"model: {params / 1e6:.0f}M parameters; global batch 4, {args.steps} steps, fp32")
        print(f"{'run':<22} {'state MB/rank':>13} {'ratio':>6} {'goal':>6} {'peak RSS MB':>12} {'ratio':>6} "
              f"{'ms/step':>8} {'ratio':>6} {'max loss diff':>14}")
        for label, (world, m, state) in results.items():
            peak = max(r["peak_memory_mb"] for r in m)
            peak_one = max(r["peak_memory_mb"] for r in one)
            diff = max(abs(a["loss"] - b["loss"]) / abs(b["loss"]) for a, b in zip(m, one))
            print(f"{label:<22} {state:>13.0f} {state / state_one:>6.2f} {1 / world + 0.1 if world > 1 else 1:>6.2f} "
                  f"{peak:>12.0f} {peak / peak_one:>6.2f} {median(m):>8.0f} {median(m) / median(one):>6.2f} "
                  f"{diff:>14.1e}")


if __name__ == "__main__":
    main()
