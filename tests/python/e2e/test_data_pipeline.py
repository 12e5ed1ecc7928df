"""data.json rows -> samples (`omnitune data dump`): token ids, labels and media grids compared with
transformers' Qwen3-Omni processor fed the same media and the same rendered text; the seed's
formats (messages, sharegpt tags, multimodal_tool), errors naming the row, and convert-llava."""
import json
import os
import subprocess
import tempfile
import unittest
import wave

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoProcessor
from common import OMNITUNE
from train_fixture import make_processor_dir

MEDIA_TOKENS = {"<image>": "<|vision_start|><|image_pad|><|vision_end|>", "<video>": "<|vision_start|><|video_pad|><|vision_end|>",
                "<audio>": "<|audio_start|><|audio_pad|><|audio_end|>"}


def write_wav(path, seconds, rate):
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + t)) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


class DataPipeline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        cls.model = make_processor_dir(d)
        os.makedirs(os.path.join(d, "media"))
        rng = np.random.default_rng(1)
        Image.fromarray(rng.integers(0, 255, (300, 420, 3), dtype=np.uint8)).save(os.path.join(d, "media", "a.png"))
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(os.path.join(d, "media", "b.png"))
        write_wav(os.path.join(d, "media", "s.wav"), 2.56, 16000)  # 40960 samples: a multiple of 160
        cls.processor = AutoProcessor.from_pretrained(cls.model)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def data_json(self, rows, name, attr=None, basic=None):
        rows_path = os.path.join(self.dir, name + ".jsonl")
        with open(rows_path, "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        cfg = {"dataset_param": {
            "dataset_type": "huggingface",
            "preprocess_parameters": {"model_name_or_path": self.model, "image_max_pixels": 262144, "image_min_pixels": 1024},
            "basic_parameters": {"template": "qwen3_omni", "dataset_dir": self.dir, "dataset": rows_path, **(basic or {})},
            "attr": attr or {"system": None, "images": "images", "videos": None, "audios": "audios", "messages": "messages",
                             "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                             "observation_tag": None, "function_tag": None, "system_tag": "system"}},
            "dataloader_param": {"shuffle": False}}
        path = os.path.join(self.dir, name + ".data.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def dump(self, data_json, index):
        out = os.path.join(self.dir, f"dump{index}.safetensors")
        r = subprocess.run([OMNITUNE, "data", "dump", "--mm-data", data_json, "--index", str(index), "--out", out],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with safe_open(out, "pt") as f:
            meta = f.metadata()
        return load_file(out), meta

    def reference(self, text, images=(), audios=()):
        for placeholder, tokens in MEDIA_TOKENS.items():
            text = text.replace(placeholder, tokens)
        kwargs = {}
        if images:
            kwargs["images"] = [Image.open(p).convert("RGB") for p in images]
        if audios:
            kwargs["audio"] = [self.read_wav(p) for p in audios]
        return self.processor(text=[text], return_tensors="pt", images_kwargs={"min_pixels": 1024, "max_pixels": 262144}, **kwargs)

    @staticmethod
    def read_wav(path):
        with wave.open(path) as w:
            return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768

    def test_matches_the_reference_processor(self):
        img_a, img_b, wav = (os.path.join(self.dir, "media", f) for f in ("a.png", "b.png", "s.wav"))
        rows = [
            {"messages": [{"role": "user", "content": "<image>What is this?"}, {"role": "assistant", "content": "Noise."}],
             "images": ["media/a.png"]},
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Listen <audio> and see <image>"},
                          {"role": "assistant", "content": "OK."}, {"role": "user", "content": "Again?"},
                          {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nYes."}],
             "images": ["media/b.png"], "audios": ["media/s.wav"]},
            {"messages": [{"role": "user", "content": "Plain text, 中文 and emoji 🙂."}, {"role": "assistant", "content": "Sure!"}]},
        ]
        data = self.data_json(rows, "mixed")
        media = [([img_a], []), ([img_b], [wav]), ([], [])]
        for i, (images, audios) in enumerate(media):
            with self.subTest(row=i):
                ours, meta = self.dump(data, i)
                ref = self.reference(meta["text"], images, audios)
                self.assertEqual(ours["input_ids"][0].tolist(), ref["input_ids"][0].tolist())
                if images:
                    self.assertTrue(torch.equal(ours["image_grid_thw"], ref["image_grid_thw"]))
                if audios:
                    self.assertEqual(ours["feature_attention_mask"].sum().item(), ref["feature_attention_mask"].sum().item())
                ids, labels = ours["input_ids"][0], ours["labels"][0]
                trained = labels != -100
                self.assertTrue(torch.equal(labels[trained], ids[trained]))
                decoded = self.processor.tokenizer.decode(ids[trained])
                self.assertTrue(decoded.endswith("<|im_end|>\n"), decoded)
                self.assertNotIn("<|image_pad|>", decoded)
                self.assertNotIn("<think>\n\n</think>", decoded)  # the empty think block is on the prompt side

    def test_train_on_empty_think_and_mask_history(self):
        rows = [{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                              {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}]
        tok = self.processor.tokenizer
        ours, _ = self.dump(self.data_json(rows, "think", basic={"train_on_empty_think": True}), 0)
        trained = tok.decode(ours["input_ids"][0][ours["labels"][0] != -100])
        self.assertEqual(trained, "<think>\n\n</think>\n\nb<|im_end|>\n<think>\n\n</think>\n\nd<|im_end|>\n")
        ours, _ = self.dump(self.data_json(rows, "history", basic={"mask_history": True}), 0)
        trained = tok.decode(ours["input_ids"][0][ours["labels"][0] != -100])
        self.assertEqual(trained, "d<|im_end|>\n")

    def test_tool_call_rows(self):
        rows = [{"messages": [{"role": "user", "content": "Weather?"},
                              {"role": "tool_call", "content": "<tool_call>\n{\"name\": \"w\", \"arguments\": {}}\n</tool_call>"},
                              {"role": "tool_response", "content": "{\"t\": 3}"}, {"role": "assistant", "content": "3 degrees."}],
                 "tools": [json.dumps({"name": "w", "description": "weather", "parameters": {}})]}]
        data = self.data_json(rows, "tools", attr={"formatting": "multimodal_tool", "messages": "messages", "images": None},
                              basic={"template": "qwen3_omni_nothink"})
        ours, meta = self.dump(data, 0)
        self.assertIn("# Tools", meta["text"])
        self.assertIn("<tool_response>\n{\"t\": 3}\n</tool_response>", meta["text"])
        tok = self.processor.tokenizer
        trained = tok.decode(ours["input_ids"][0][ours["labels"][0] != -100])
        self.assertEqual(trained, "<tool_call>\n{\"name\": \"w\", \"arguments\": {}}\n</tool_call><|im_end|>\n3 degrees.<|im_end|>\n")
        self.assertEqual(ours["input_ids"][0].tolist(), tok(meta["text"])["input_ids"])

    def test_bad_rows_name_file_and_row(self):
        rows = [{"messages": [{"role": "user", "content": "<image>x"}, {"role": "assistant", "content": "y"}]},
                {"messages": [{"role": "usr", "content": "x"}, {"role": "assistant", "content": "y"}]},
                {"messages": [{"role": "user", "content": "<image>"}, {"role": "assistant", "content": "y"}],
                 "images": ["media/missing.png"]}]
        data = self.data_json(rows, "bad")
        path = os.path.join(self.dir, "bad.jsonl")
        for index, message in ((0, f"{path} row 0 (line 1): 1 <image> placeholder(s) but 0 image file(s)"),
                               (1, f"{path} row 1 (line 2): messages[0]: unknown role 'usr' (did you mean 'user'?)"),
                               (2, f"{path} row 2 (line 3): image file media/missing.png: no such file")):
            r = subprocess.run([OMNITUNE, "data", "dump", "--mm-data", data, "--index", str(index), "--out",
                                os.path.join(self.dir, "x.safetensors")], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(message, r.stderr)

    def test_overlong_sample_never_cuts_media(self):
        rows = [{"messages": [{"role": "user", "content": "<image>" + " word" * 50}, {"role": "assistant", "content": "ok"}],
                 "images": ["media/a.png"]}]
        data = self.data_json(rows, "long", basic={"cutoff_len": 40})
        r = subprocess.run([OMNITUNE, "data", "dump", "--mm-data", data, "--index", "0", "--out",
                            os.path.join(self.dir, "x.safetensors")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("truncating it would cut through a media block", r.stderr)

    def test_preview_marks_trained_spans(self):
        rows = [{"messages": [{"role": "user", "content": "<image>Hi"}, {"role": "assistant", "content": "Hello"}],
                 "images": ["media/b.png"]}]
        r = subprocess.run([OMNITUNE, "data", "preview", "--mm-data", self.data_json(rows, "preview")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("<|image_pad|>*", r.stdout)
        self.assertIn("[[Hello<|im_end|>\n]]", r.stdout)
        self.assertIn("1 image(s)", r.stdout)

    def test_convert_llava(self):
        llava = os.path.join(self.dir, "llava.json")
        with open(llava, "w") as f:
            json.dump([{"id": 1, "image": "a.png", "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}]},
                       {"id": 2, "image": "nope.png", "conversations": [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": "B"}]},
                       {"id": 3, "conversations": [{"from": "human", "value": "text"}, {"from": "gpt", "value": "C"}]}], f)
        out = os.path.join(self.dir, "converted.json")
        args = [OMNITUNE, "data", "convert-llava", "--llava-json", llava, "--image-root", os.path.join(self.dir, "media"), "--out", out]
        r = subprocess.run(args, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("skipped 1 records whose image is missing", r.stdout)
        rows = json.load(open(out))
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[0]["messages"], [{"role": "user", "content": "<image>\nQ"}, {"role": "assistant", "content": "A"}])
        self.assertEqual(rows[1]["images"], [])
        r = subprocess.run(args, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists; refusing to overwrite it", r.stderr)


if __name__ == "__main__":
    unittest.main()
