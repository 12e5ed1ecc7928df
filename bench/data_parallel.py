"""Data-parallel training on one machine: per-rank peak memory and time per step at 1, 2 and 4 ranks
(`omnitune launch`, Gloo over loopback), same global batch, same weights and data.

    .venv/bin/python bench/data_parallel.py [--build build] [--steps 4]

Every rank holds a full replica of the model (parameter sharding is not built yet) and, unless
--use-distributed-optimizer shards it, of the AdamW state; the table says what that costs per rank. On a 2-core machine the ranks
share the cores, so time per step shows the overhead of the collectives and of splitting the batch, not
the speed-up that N devices would give. The losses of the runs must agree (1e-6 relative).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "helpers"))
from train_fixture import add_tokenizer, make_dataset, make_model_json, read_metrics  # noqa: E402


def config(hidden=384, heads=6, kv_heads=2, head_dim=64, moe_intermediate=256, mrope=(16, 8, 8)):
    """Tiny-model vocabulary, wider text model (default: about 125M parameters, most of them embedding and
    lm_head)."""
    with open(os.path.join(ROOT, "assets", "configs", "tiny-qwen3-omni", "config.json")) as f:
        d = json.load(f)
    t = d["thinker_config"]
    t["text_config"].update(hidden_size=hidden, num_hidden_layers=4, num_attention_heads=heads,
                            num_key_value_heads=kv_heads, head_dim=head_dim, num_experts=8, num_experts_per_tok=2,
                            moe_intermediate_size=moe_intermediate)
    t["text_config"]["rope_parameters"]["mrope_section"] = list(mrope)
    t["vision_config"].update(out_hidden_size=hidden)
    t["audio_config"].update(output_dim=hidden)
    return d


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_args(description):
    """--build, --steps; and the omnitune program."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    return args, os.path.join(args.build, "src", "omnitune", "omnitune")


def bench_model(omnitune, root, cfg):
    """A random model of config `cfg` (init-model) with the tokenizer, 16 dataset rows and model.json under
    `root`: (model dir, data.json, model.json)."""
    cfg_dir = os.path.join(root, "config")
    os.makedirs(cfg_dir)
    with open(os.path.join(cfg_dir, "config.json"), "w") as f:
        json.dump(cfg, f)
    model = os.path.join(root, "model")
    subprocess.run([omnitune, "init-model", "--config", cfg_dir, "--out", model, "--seed", "1"], check=True,
                   capture_output=True)
    add_tokenizer(model)
    return model, make_dataset(root, model, rows=16), make_model_json(root, model)


def main():
    args, omnitune = bench_args(__doc__.split("\n")[0])
    with tempfile.TemporaryDirectory() as root:
        model, data, model_json = bench_model(omnitune, root, config())
        results = {}
        for world, extra in ((1, []), (2, []), (4, []), (4, ["--use-distributed-optimizer"])):
            save = os.path.join(root, f"world{world}")
            train = ["train", "--mm-data", data, "--mm-model", model_json, "--micro-batch-size", "1",
                     "--global-batch-size", "4", "--lr", "1e-4", "--train-iters", str(args.steps), "--log-interval",
                     "1", "--seed", "1", "--device", "cpu", "--save", save, "--no-save-optim", *extra]
            cmd = [omnitune, *train] if world == 1 else [omnitune, "launch", "--nproc-per-node", str(world),
                                                          "--master-port", str(free_port()), "--", *train]
            subprocess.run(cmd, check=True, capture_output=True)
            results[f"{world}{' + distributed optimizer' if extra else ''}"] = read_metrics(save)
            shutil.rmtree(save)
        one = results["1"]
        print(f"{'ranks':<30} {'peak MB / rank':>15} {'ratio':>6} {'ms / step':>10} {'ratio':>6} {'max loss rel diff':>18}")
        for world, m in results.items():
            peak = max(r["peak_memory_mb"] for r in m)
            ms = sorted(r["ms_per_iter"] for r in m[1:])[len(m[1:]) // 2]  # median, first step left out
            ms_one = sorted(r["ms_per_iter"] for r in one[1:])[len(one[1:]) // 2]
            peak_one = max(r["peak_memory_mb"] for r in one)
            diff = max(abs(a["loss"] - b["loss"]) / abs(b["loss"]) for a, b in zip(m, one))
            print(f"{world:<30} {peak:>15.0f} {peak / peak_one:>6.2f} {ms:>10.0f} {ms / ms_one:>6.2f} {diff:>18.1e}")


if __name__ == "__main__":
    main()
