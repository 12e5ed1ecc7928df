"""Decoding speed of `omnitune generate` vs transformers' generate (greedy, KV cache, sdpa), same weights, same
prompt, same machine, one run. Config: the bench model of thinker_vs_transformers.py (text hidden 512, 4 layers,
16 experts top-4) or --tiny (the test model). Decode tokens/s = tokens after the first / the time they took
(the prompt's prefill excluded on both sides: transformers' is measured with max_new_tokens=1 and subtracted);
median of --runs runs. Also checks that both produce the same tokens.

    .venv/bin/python bench/generate_vs_transformers.py [--new-tokens N] [--runs R] [--tiny] [--build build]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from safetensors.torch import load_file
from transformers import Qwen3OmniMoeConfig, Qwen3OmniMoeForConditionalGeneration

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python", "helpers"))
from common import TINY_DIR, TOKENIZER_DIR  # noqa: E402
from thinker_vs_transformers import bench_config  # noqa: E402

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tiny", action="store_true", help="the tiny test model instead of the bench model")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = ap.parse_args()
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    omnitune = os.path.join(args.build, "src", "omnitune", "omnitune")

    with tempfile.TemporaryDirectory() as tmp:
        cfg_dir, model_dir = os.path.join(tmp, "config"), os.path.join(tmp, "model")
        if args.tiny:
            cfg_dir = TINY_DIR
        else:
            Qwen3OmniMoeConfig(**bench_config()).save_pretrained(cfg_dir)
        subprocess.run([omnitune, "init-model", "--config", cfg_dir, "--out", model_dir, "--seed", "1"], check=True,
                       capture_output=True)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(TOKENIZER_DIR, f), model_dir)

        ours = []
        for i in range(args.runs):
            out, inputs = os.path.join(tmp, f"out{i}.json"), os.path.join(tmp, "inputs.safetensors")
            subprocess.run([omnitune, "generate", "--model", model_dir, "--prompt", PROMPT, "--max-new-tokens",
                            str(args.new_tokens), "--json", out, "--save-inputs", inputs], check=True, capture_output=True)
            with open(out) as f:
                ours.append(json.load(f))

        thinker = Qwen3OmniMoeForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).thinker.eval()
        batch = load_file(inputs)

        def timed(n):
            start = time.perf_counter()
            with torch.no_grad():
                out = thinker.generate(**batch, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                       eos_token_id=151645, pad_token_id=151643)
            return time.perf_counter() - start, out[0, batch["input_ids"].shape[1]:].tolist()

        timed(2)  # warm-up
        hf_rates = []
        for _ in range(args.runs):
            prefill, _ = timed(1)
            total, hf_tokens = timed(args.new_tokens)
            hf_rates.append((len(hf_tokens) - 1) / (total - prefill))

    our_rate = statistics.median(r["decode_tokens_per_second"] for r in ours)
    hf_rate = statistics.median(hf_rates)
    same = ours[0]["new_token_ids"] == hf_tokens
    n_prompt = len(ours[0]["prompt_ids"])
    print(f"{'tiny test model' if args.tiny else 'bench model (text hidden 512, 4 layers, 16 experts top-4)'}, "
          f"prompt {n_prompt} tokens, {args.new_tokens} new tokens greedy, {threads} threads, median of {args.runs}")
    print(f"transformers generate: {hf_rate:8.1f} tokens/s")
    print(f"omnitune generate:     {our_rate:8.1f} tokens/s")
    print(f"ratio (omnitune / transformers): {our_rate / hf_rate:.2f}x; same tokens: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
