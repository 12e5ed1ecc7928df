"""Forward+backward of the Qwen3-Omni thinker: OmniTune vs transformers (eager attention), same weights,
same batch, same machine, one run. Small config: text hidden 512, 4 layers, 16 experts top-4,
sequence 2048 with an image and an audio clip. Prints tokens/s of each and the ratio.

    .venv/bin/python bench/thinker_vs_transformers.py [--iters N] [--build build]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
from safetensors.torch import save_file
from transformers import Qwen3OmniMoeConfig, Qwen3OmniMoeForConditionalGeneration

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python", "helpers"))
from omni_batches import Builder  # noqa: E402
from tiny_models import TINY_CONFIG  # noqa: E402


def bench_config():
    with open(TINY_CONFIG) as f:
        d = json.load(f)
    t = d["thinker_config"]
    t["text_config"].update(hidden_size=512, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4, head_dim=64,
                            num_experts=16, num_experts_per_tok=4, moe_intermediate_size=256, norm_topk_prob=True,
                            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [12, 10, 10],
                                             "interleaved": True, "mrope_interleaved": True})
    t["vision_config"].update(depth=4, hidden_size=256, num_heads=4, intermediate_size=512, deepstack_visual_indexes=[1, 2],
                              num_position_embeddings=256, out_hidden_size=512)
    t["audio_config"].update(d_model=256, encoder_attention_heads=4, encoder_layers=4, encoder_ffn_dim=512,
                             downsample_hidden_size=64, output_dim=512, n_window_infer=800)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = ap.parse_args()
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    omnitune = os.path.join(args.build, "src", "omnitune", "omnitune")
    step = os.path.join(args.build, "bench", "thinker_step")

    with tempfile.TemporaryDirectory() as tmp:
        cfg_dir, model_dir = os.path.join(tmp, "config"), os.path.join(tmp, "model")
        Qwen3OmniMoeConfig(**bench_config()).save_pretrained(cfg_dir)
        subprocess.run([omnitune, "init-model", "--config", cfg_dir, "--out", model_dir, "--seed", "1"], check=True,
                       capture_output=True)
        model = Qwen3OmniMoeForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32,
                                                                     attn_implementation="eager")
        gen = torch.Generator().manual_seed(0)
        b = Builder(model.config, gen)
        image, audio = b.image(1, 32, 32), b.audio(2000)  # 256 image tokens, 260 audio tokens
        b.row(b.text(700), image, b.text(400), audio, b.text(2048 - 1100 - len(image) - len(audio)), prompt=100)
        batch = b.build()
        tensors = {k: v for k, v in batch.items() if k != "use_audio_in_video"}
        save_file(tensors, os.path.join(tmp, "batch.safetensors"))
        tokens = int(batch["attention_mask"].sum())

        thinker = model.thinker.train()
        def hf_step():
            thinker.zero_grad()
            thinker(**tensors).loss.backward()
        hf_step()
        start = time.perf_counter()
        for _ in range(args.iters):
            hf_step()
        hf_s = (time.perf_counter() - start) / args.iters

        r = subprocess.run([step, model_dir, os.path.join(tmp, "batch.safetensors"), str(args.iters)], check=True,
                           capture_output=True, text=True)
        ours = json.loads(r.stdout)
    hf_tps = tokens / hf_s
    print(f"sequence {tokens} tokens (text hidden 512, 4 layers, 16 experts top-4, image + audio), {threads} threads")
    print(f"transformers eager: {hf_s * 1e3:8.1f} ms/step  {hf_tps:8.1f} tokens/s")
    print(f"omnitune          : {ours['ms_per_step']:8.1f} ms/step  {ours['tokens_per_s']:8.1f} tokens/s")
    print(f"ratio omnitune/transformers: {ours['tokens_per_s'] / hf_tps:.2f}x")


if __name__ == "__main__":
    main()
