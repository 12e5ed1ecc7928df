"""A tiny model and a small real-media dataset for trainer tests: `omnitune init-model` weights with the
tokenizer beside them, PNG images, 44.1 kHz WAV speech-like audio, text-only rows; data.json and model.json
in the seed's formats."""
import json
import os
import shutil
import tempfile
import unittest
import wave

import numpy as np
from PIL import Image
from common import REAL_DIR, TINY_CONFIG, TINY_DIR, TOKENIZER_DIR, omnitune

PAD_ID = 151643  # <|endoftext|>, the collator's padding


def write_wav(path, seconds, rate, pitch):
    t = np.arange(int(seconds * rate)) / rate
    f0 = pitch * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.2 * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def add_tokenizer(model_dir):
    """Copies the Qwen3-Omni tokenizer files into `model_dir` (data.json's model_name_or_path)."""
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TOKENIZER_DIR, f), model_dir)


def make_processor_dir(root):
    """<root>/model with the tokenizer, the real preprocessor config and the tiny model config, no weights:
    what the data pipeline reads."""
    model = os.path.join(root, "model")
    os.makedirs(model)
    add_tokenizer(model)
    shutil.copy(os.path.join(REAL_DIR, "preprocessor_config.json"), model)
    shutil.copy(TINY_CONFIG, model)
    return model


def make_model(root, seed=3):
    """<root>/model: `omnitune init-model` weights of the tiny config with the tokenizer beside them."""
    model = os.path.join(root, "model")
    omnitune("init-model", "--config", TINY_DIR, "--out", model, "--seed", str(seed))
    add_tokenizer(model)
    return model


def make_dataset(root, model, rows=8, workers=1, shuffle=False):
    media = os.path.join(root, "media")
    os.makedirs(media, exist_ok=True)
    colours = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (40, 60, 220)}
    for i, (name, rgb) in enumerate(colours.items()):
        img = np.full((48 + 16 * i, 64, 3), 245, dtype=np.uint8)
        img[8:40, 8 + 4 * i:48] = rgb
        Image.fromarray(img).save(os.path.join(media, f"{name}.png"))
    write_wav(os.path.join(media, "low.wav"), 1.0, 44100, 120)
    write_wav(os.path.join(media, "high.wav"), 1.5, 44100, 260)
    samples = []
    for i in range(rows):
        kind = i % 4
        if kind == 0:
            c = list(colours)[i // 4 % 3]
            samples.append({"messages": [{"role": "user", "content": "<image>What colour is the square?"},
                                         {"role": "assistant", "content": f"The square is {c}."}],
                            "images": [f"media/{c}.png"]})
        elif kind == 1:
            a = ["low", "high"][i // 4 % 2]
            samples.append({"messages": [{"role": "user", "content": "<audio>Is the voice low or high?"},
                                         {"role": "assistant", "content": f"It is a {a} voice."}],
                            "audios": [f"media/{a}.wav"]})
        elif kind == 2:
            samples.append({"messages": [{"role": "user", "content": f"Count to {3 + i % 5}."},
                                         {"role": "assistant", "content": " ".join(str(k) for k in range(1, 4 + i % 5))}]})
        else:
            samples.append({"messages": [{"role": "system", "content": "You answer briefly."},
                                         {"role": "user", "content": "<image>Describe it."},
                                         {"role": "assistant", "content": "A coloured square on white."},
                                         {"role": "user", "content": "And the background?"},
                                         {"role": "assistant", "content": "White."}],
                            "images": ["media/blue.png"]})
    rows_path = os.path.join(root, "rows.jsonl")
    with open(rows_path, "w") as f:
        for s in samples:
            f.write(json.dumps(s) + "\n")
    cfg = {"dataset_param": {
        "dataset_type": "huggingface",
        "preprocess_parameters": {"model_name_or_path": model, "image_max_pixels": 4096, "image_min_pixels": 1024,
                                  "audio_sampling_rate": 16000},
        "basic_parameters": {"template": "qwen3_omni", "dataset_dir": root, "dataset": rows_path, "cutoff_len": 512},
        "attr": {"system": None, "images": "images", "videos": None, "audios": "audios", "messages": "messages",
                 "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                 "observation_tag": None, "function_tag": None, "system_tag": "system"}},
        "dataloader_param": {"shuffle": shuffle, "drop_last": True, "num_workers": workers}}
    data_json = os.path.join(root, "data.json")
    with open(data_json, "w") as f:
        json.dump(cfg, f, indent=1)
    return data_json


def make_model_json(root, model, loss_cfg=None, extra=None):
    cfg = {"model_id": "qwen3_omni_moe", "init_from_hf_path": model,
           "image_encoder": {"vision_encoder": {"freeze": False, "attn_implementation": "sdpa"},
                             "vision_projector": {"freeze": False}},
           "audio_encoder": {"audio_encoder": {"freeze": False, "attn_implementation": "sdpa"}},
           "text_decoder": {"freeze": False, "attn_implementation": "sdpa"},
           "loss_cfg": loss_cfg or {"loss_type": "default", "compute_mode": "default"}}
    cfg.update(extra or {})
    path = os.path.join(root, "model.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


def read_metrics(save):
    with open(os.path.join(save, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


class TinyModelCase(unittest.TestCase):
    """Tests that need a tiny model with the tokenizer, a small real-media data.json (`rows` rows) and a
    model.json, made once per class in a temporary directory (`root`) that is removed afterwards."""
    rows = 4

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = cls.tmp.name
        cls.model = make_model(cls.root)
        cls.data = make_dataset(cls.root, cls.model, rows=cls.rows)
        cls.model_json = make_model_json(cls.root, cls.model)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, *parts):
        return os.path.join(self.root, *parts)
