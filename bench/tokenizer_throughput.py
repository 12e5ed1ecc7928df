"""Single-thread tokenizer throughput: OmniTune's C++ tokenizer (bench/tokenizer_bench, loaded once)
against Hugging Face `tokenizers` (one string at a time, one thread) on the same generated corpus of
more than 2 MB (the parity test's corpus). Prints MB/s of each and the ratio.

    .venv/bin/python bench/tokenizer_throughput.py --bench build/bench/tokenizer_bench [--omnitune build/src/omnitune/omnitune]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "tests", "python", d) for d in ("helpers", "parity")]

from test_tokenizer import make_corpus, write_jsonl  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

TOKENIZER_DIR = os.path.join(ROOT, "assets", "tokenizer", "qwen3-omni")


def first_existing(paths):
    return next((p for p in paths if os.path.exists(p)), None)


def time_hf(lines, repeats):
    tokenizer = Tokenizer.from_file(os.path.join(TOKENIZER_DIR, "tokenizer.json"))
    seconds, tokens = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = sum(len(tokenizer.encode(line, add_special_tokens=False).ids) for line in lines)
        seconds.append(time.perf_counter() - start)
    return seconds[0], min(seconds), tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", help="tokenizer_bench binary (default: build*/bench/tokenizer_bench)")
    parser.add_argument("--omnitune", help="also time the whole `omnitune tokenize` process with this binary")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--megabytes", type=float, default=2.1)
    args = parser.parse_args()
    bench = args.bench or first_existing(
        [os.path.join(ROOT, d, "bench", "tokenizer_bench") for d in ("build", "build-tok", "build-release")])
    if not bench:
        sys.exit("tokenizer_bench not found: build it (ninja -C build tokenizer_bench) or pass --bench")

    lines = make_corpus(min_bytes=int(args.megabytes * 1e6))
    size = sum(len(line.encode()) for line in lines)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.jsonl")
        write_jsonl(corpus, [{"text": line} for line in lines])
        ours = json.loads(subprocess.run([bench, TOKENIZER_DIR, corpus, str(args.repeats)], check=True,
                                         capture_output=True, text=True).stdout)
        cli_s = None
        if args.omnitune:
            start = time.perf_counter()
            subprocess.run([args.omnitune, "tokenize", "--tokenizer", TOKENIZER_DIR, "--input", corpus, "--output",
                            os.path.join(tmp, "ids.jsonl")], check=True)
            cli_s = time.perf_counter() - start
    hf_first, hf_best, hf_tokens = time_hf(lines, args.repeats)
    if hf_tokens != ours["tokens"]:
        print(f"warning: token counts differ: omnitune {ours['tokens']}, tokenizers {hf_tokens}")

    mb = size / 1e6
    print(f"corpus: {len(lines)} lines, {size} bytes, {hf_tokens} tokens; single thread, {args.repeats} passes")
    print(f"{'':28}{'first pass':>14}{'best pass':>14}")
    print(f"{'omnitune (C++)':28}{mb / ours['first_s']:>10.2f} MB/s{mb / ours['best_s']:>9.2f} MB/s")
    print(f"{'HF tokenizers':28}{mb / hf_first:>10.2f} MB/s{mb / hf_best:>9.2f} MB/s")
    print(f"{'ratio (omnitune / HF)':28}{hf_first / ours['first_s']:>12.2f}x{hf_best / ours['best_s']:>12.2f}x")
    print(f"tokenizer load: omnitune {ours['load_s']:.2f} s")
    if cli_s is not None:
        print(f"`omnitune tokenize` whole process (load, JSONL in/out): {cli_s:.2f} s = {mb / cli_s:.2f} MB/s")


if __name__ == "__main__":
    main()
