"""Per-rank memory of a long Qwen3-Omni-30B-A3B sample under Ulysses context parallelism, from measurements on a
slice of the real dimensions: one MoE decoder layer in bf16 (bench/context_parallel_memory: forward + backward
of one rank's tokens with the exchanges looped back, heap in use), at 512 and 1024 tokens per rank for CP 8 and
16, extended linearly in the tokens per rank (at a fixed CP every term of the layer is linear in them: the
rank's tokens, and the whole sequence of its 32/CP query heads and one repeated key/value head).

    .venv/bin/python bench/context_parallel_memory.py [--build build]

The model, per rank, with per-layer recompute and offload (bf16 compute): one layer's working set (measured,
with its parameter gradients as FSDP2 holds them until their reduce-scatter; the CPU kernels' [S, S] causal mask
taken out, as a GPU's flash attention takes none) + the whole sequence's embeddings and their gradient (every
rank embeds the sample before the cut) + the chunked loss (a [1024, vocabulary] fp32 block and lm_head's fp32
gradient); the checkpointed layer inputs (48 x s x hidden) go to host memory with offload. Not included: the
fp32 master weights, gradients and AdamW state (16 bytes a parameter, sharded by FSDP2 over the job: 31.7 B
parameters -> 63 GB a rank at 8 ranks, 32 GB at 16) and the towers (text-only sample).
"""
import argparse
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL = os.path.join(ROOT, "assets", "configs", "qwen3-omni-30b-a3b")
MB = 2**20


def measure(tool, cp, tokens):
    out = subprocess.run([tool, REAL, str(cp), str(tokens)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    tool = os.path.join(parser.parse_args().build, "bench", "context_parallel_memory")
    with open(os.path.join(REAL, "config.json")) as f:
        text = json.load(f)["thinker_config"]["text_config"]
    hidden, layers, vocab = text["hidden_size"], text["num_hidden_layers"], text["vocab_size"]
    loss_mb = (1024 * vocab * 4 + vocab * hidden * 4) / MB
    print("one decoder layer (real dimensions, bf16), measured per rank:")
    print(f"{'CP':>3} {'tokens/rank':>11} {'kept after fwd MB':>18} {'peak MB':>8} {'of it grads MB':>15} "
          f"{'CPU mask MB':>12}")
    layer = {}
    for cp in (8, 16):
        points = []
        for s in (512, 1024):
            m = measure(tool, cp, s)
            print(f"{cp:>3} {s:>11} {m['saved_mb']:>18.0f} {m['peak_mb']:>8.0f} {m['grads_mb']:>15.0f} "
                  f"{m['mask_mb']:>12.0f}")
            points.append((s, m["peak_mb"] - 2 * m["mask_mb"]))  # the mask and the ones it is cut from
        (s1, w1), (s2, w2) = points
        layer[cp] = (w1, (w2 - w1) / (s2 - s1))
    print(f"\nper rank, recompute + offload (GB; checkpoints on the host):")
    print(f"{'sample':>7} {'CP':>3} {'tokens/rank':>11} {'layer':>6} {'embeddings':>10} {'loss':>5} "
          f"{'device':>7} {'host checkpoints':>16}")
    for total in (32768, 131072):
        for cp in (8, 16):
            s = total // cp
            w1, slope = layer[cp]
            working = w1 + slope * (s - 512)
            embeds = total * hidden * 2 * 2 / MB
            checkpoints = layers * s * hidden * 2 / MB
            device = working + embeds + loss_mb
            print(f"{total // 1024:>6}K {cp:>3} {s:>11} {working / 1024:>6.1f} {embeds / 1024:>10.2f} "
                  f"{loss_mb / 1024:>5.1f} {device / 1024:>7.1f} {checkpoints / 1024:>16.2f}")


if __name__ == "__main__":
    main()
