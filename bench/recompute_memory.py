"""Activation memory saved by per-layer recompute (and offload), per tower and for all towers.

Builds a moderately sized Qwen3-Omni thinker config and one batch with text, an image, a video and an audio
clip, then runs bench/recompute_memory (one forward+backward, random weights) once per configuration, each
in its own process, and prints peak RSS, the peak above the RSS before the step (weights + batch: what the
step itself allocates), and the saving against the plain run. The loss must be the same in every run.

    .venv/bin/python bench/recompute_memory.py [--build build] [--device cpu|cuda]

On the CPU `--offload` saves nothing over `--recompute` (the host is the device); on an accelerator the JSON
lines also carry the device's peak allocated memory and the offload counters.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import save_file
from transformers import Qwen3OmniMoeConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "helpers"))
from omni_batches import Builder  # noqa: E402

RUNS = [
    ("plain", []),
    ("recompute audio", ["--recompute", "audio"]),
    ("recompute vision", ["--recompute", "vision"]),
    ("recompute text", ["--recompute", "text"]),
    ("recompute all", ["--recompute", "all"]),
    ("offload all", ["--offload", "all"]),
]


def config():
    """Tiny-model vocabulary and special tokens; towers of moderate size (about 120M parameters, most of
    them the 152064-row embedding and lm_head)."""
    with open(os.path.join(ROOT, "assets", "configs", "tiny-qwen3-omni", "config.json")) as f:
        d = json.load(f)
    t = d["thinker_config"]
    t["text_config"].update(hidden_size=384, num_hidden_layers=8, num_attention_heads=6, num_key_value_heads=2,
                            head_dim=64, num_experts=8, num_experts_per_tok=2, moe_intermediate_size=256)
    t["text_config"]["rope_parameters"]["mrope_section"] = [16, 8, 8]  # sums to head_dim / 2
    t["vision_config"].update(depth=8, hidden_size=256, num_heads=4, intermediate_size=1024, out_hidden_size=384,
                              deepstack_visual_indexes=[1, 3, 5])
    t["audio_config"].update(d_model=256, encoder_attention_heads=4, encoder_layers=8, encoder_ffn_dim=1024,
                             downsample_hidden_size=64, output_dim=384)
    return d


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    runner = os.path.join(args.build, "bench", "recompute_memory")

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Qwen3OmniMoeConfig(**config())
        cfg.save_pretrained(tmp)
        b = Builder(cfg, torch.Generator().manual_seed(0))
        b.row(b.text(200), b.image(1, 48, 64), b.text(100), b.video(4, 32, 32), b.audio(3000), b.text(1500), prompt=300)
        batch = b.build()
        path = os.path.join(tmp, "batch.safetensors")
        save_file({k: v for k, v in batch.items() if k != "use_audio_in_video"}, path)
        tokens = batch["input_ids"].numel()
        patches = batch["pixel_values"].shape[0] + batch["pixel_values_videos"].shape[0]
        print(f"batch: {tokens} tokens, {patches} vision patches, 30 s of audio; device {args.device}")

        results = {}
        for name, flags in RUNS:
            r = subprocess.run([runner, tmp, path, "--device", args.device, "--loss-chunk", "1024", *flags],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"{name}: {r.stderr.strip()}")
            results[name] = json.loads(r.stdout.strip().splitlines()[-1])
            print(json.dumps({"run": name, **results[name]}), flush=True)

    plain = results["plain"]
    step = lambda r: r["peak_rss_mb"] - r["rss_before_mb"]  # noqa: E731
    print(f"\n{'run':18} {'peak RSS MB':>12} {'step MB':>9} {'saved MB':>9} {'saved %':>8}")
    for name, r in results.items():
        saved = step(plain) - step(r)
        print(f"{name:18} {r['peak_rss_mb']:12.0f} {step(r):9.0f} {saved:9.0f} {100 * saved / step(plain):7.1f}%")
        if r["loss"] != plain["loss"]:
            raise SystemExit(f"{name}: loss {r['loss']} differs from the plain run's {plain['loss']}")


if __name__ == "__main__":
    main()
