"""Peak memory and speed of `omnitune convert` on a multi-GB checkpoint with the real Qwen3-Omni-30B-A3B
dimensions (128 experts, hidden 2048, vocab 152064) and --layers layers per tower: init-model writes it in
bf16 shards, then hf-to-dcp and dcp-to-hf run under /usr/bin/time -v. Prints each step's peak RSS next to
its largest input shard (conversion streams, so the peak should not grow with the model).

    .venv/bin/python bench/convert_memory.py [--build build] [--layers 2] [--shard 1GB] [--work /tmp]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
REAL = os.path.join(ROOT, "assets", "configs", "qwen3-omni-30b-a3b")


def timed(binary, *args):
    """(peak RSS in bytes, seconds) of one omnitune run under /usr/bin/time -v."""
    start = time.time()
    r = subprocess.run(["/usr/bin/time", "-v", binary, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"omnitune {' '.join(args)} failed:\n{r.stderr}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return kb * 1024, time.time() - start


def shards(d):
    return [os.path.join(d, f) for f in os.listdir(d) if f.endswith(".safetensors")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--shard", default="1GB", help="--max-shard-size of the written checkpoints")
    ap.add_argument("--work", default=None, help="directory for the temporary checkpoints (default: system temp)")
    args = ap.parse_args()
    binary = os.path.join(args.build, "src", "omnitune", "omnitune")
    with open(os.path.join(REAL, "config.json")) as f:
        config = json.load(f)
    thinker = config["thinker_config"]
    thinker["text_config"]["num_hidden_layers"] = args.layers
    thinker["audio_config"]["encoder_layers"] = args.layers
    thinker["vision_config"]["depth"] = max(args.layers, 1)
    thinker["vision_config"]["deepstack_visual_indexes"] = list(range(min(3, args.layers)))

    with tempfile.TemporaryDirectory(dir=args.work) as d:
        cfg = os.path.join(d, "config")
        os.makedirs(cfg)
        with open(os.path.join(cfg, "config.json"), "w") as f:
            json.dump(config, f)
        shutil.copy(os.path.join(REAL, "preprocessor_config.json"), cfg)
        hf, save, out = (os.path.join(d, n) for n in ("hf", "save", "out"))
        rss, secs = timed(binary, "init-model", "--config", cfg, "--out", hf, "--dtype", "bf16", "--max-shard-size", args.shard)
        total = sum(os.path.getsize(f) for f in shards(hf))
        print(f"checkpoint: {args.layers} layers per tower, {total / 2**30:.2f} GiB bf16 in {len(shards(hf))} shards "
              f"(init-model {secs:.0f} s, peak {rss / 2**30:.2f} GiB)")
        steps = [("hf-to-dcp", hf, ["convert", "hf-to-dcp", "--hf-dir", hf, "--save-dir", save, "--max-shard-size", args.shard]),
                 ("dcp-to-hf", os.path.join(save, "release"),
                  ["convert", "dcp-to-hf", "--hf-dir", hf, "--dcp-dir", save, "--save-dir", out, "--max-shard-size", args.shard])]
        for name, source, command in steps:
            rss, secs = timed(binary, *command)
            largest = max(os.path.getsize(f) for f in shards(source))
            size = sum(os.path.getsize(f) for f in shards(source))
            print(f"{name}: peak RSS {rss / 2**20:,.0f} MiB; input {size / 2**30:.2f} GiB, largest shard "
                  f"{largest / 2**20:,.0f} MiB; {secs:.1f} s ({size / 2**20 / secs:,.0f} MiB/s read)")


if __name__ == "__main__":
    main()
