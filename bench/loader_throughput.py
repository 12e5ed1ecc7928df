"""Data loader throughput on a generated mixed set (images 640x480, 5 s speech-like audio at 44.1 kHz,
3 s videos with sound, text-only rows): samples/s with 0, 1 and 2 worker threads and the time a
trainer would wait per step.

    .venv/bin/python bench/loader_throughput.py [--build build] [--rows 48]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import wave

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rows", type=int, default=48)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "model")
        shutil.copytree(os.path.join(ROOT, "assets", "tokenizer", "qwen3-omni"), model)
        Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(os.path.join(d, "img.jpg"))
        t = np.arange(5 * 44100) / 44100
        with wave.open(os.path.join(d, "speech.wav"), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(44100)
            w.writeframes((0.3 * np.sin(2 * np.pi * 180 * t * (1 + 0.3 * np.sin(3 * t))) * 32767).astype("<i2").tobytes())
        subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=3:size=320x240:rate=25", "-f", "lavfi",
                        "-i", "sine=frequency=440:duration=3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                        os.path.join(d, "clip.mp4")], check=True)
        kinds = [({"images": ["img.jpg"]}, "<image>Describe."), ({"audios": ["speech.wav"]}, "<audio>Transcribe."),
                 ({"videos": ["clip.mp4"]}, "<video>What happens?"), ({}, "Just text.")]
        with open(os.path.join(d, "rows.jsonl"), "w") as f:
            for i in range(args.rows):
                media, prompt = kinds[i % len(kinds)]
                f.write(json.dumps({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"Answer {i}."}],
                                    **media}) + "\n")
        cfg = {"dataset_param": {"preprocess_parameters": {"model_name_or_path": model},
                                 "basic_parameters": {"dataset": os.path.join(d, "rows.jsonl"), "dataset_dir": d, "cutoff_len": 8192},
                                 "attr": {"messages": "messages", "role_tag": "role", "content_tag": "content", "user_tag": "user",
                                          "assistant_tag": "assistant", "images": "images", "videos": "videos", "audios": "audios"}}}
        with open(os.path.join(d, "data.json"), "w") as f:
            json.dump(cfg, f)
        out = subprocess.run([os.path.join(args.build, "bench", "loader_bench"), os.path.join(d, "data.json"), "4",
                              str(args.rows // 4), "0", "1", "2"], check=True, capture_output=True, text=True).stdout
    print(f"mixed set: images 640x480, 5 s audio at 44.1 kHz, 3 s 320x240 videos with sound, text; micro-batch 4, {os.cpu_count()} cores")
    for line in out.splitlines():
        r = json.loads(line)
        print(f"workers {r['workers']}: {r['samples_per_s']:7.2f} samples/s, trainer waits {r['wait_ms_per_step']:7.1f} ms per step")


if __name__ == "__main__":
    main()
