"""`omnitune generate` against transformers' Qwen3OmniMoeThinkerForConditionalGeneration.generate run live on the
tiny model (random weights, fp32): greedy decoding gives exactly the reference's tokens for a text prompt, an
image + audio prompt, a video with its sound track (use_audio_in_video), a multi-turn messages file and a model
with a PEFT adapter (PeftModel). The prompt tokens equal transformers' processor on the same chat text; the model
inputs the reference decodes from are the ones `generate --save-inputs` wrote (media processing parity is
tests/python/parity/test_vision_inputs, test_audio_features and test_data_audio_in_video). Generation stops at an
end token of generation_config.json as the reference does; bad requests are refused with the flag named."""
import json
import os
import shutil
import tempfile
import unittest
import wave

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoProcessor, Qwen3OmniMoeForConditionalGeneration

from common import REAL_DIR, omnitune
from test_data_audio_in_video import write_video
from train_fixture import make_model

NEW_TOKENS = 32
IM_END, PAD = 151645, 151643
THINK = "<think>\n\n</think>\n\n"  # qwen3_omni: the empty think block of training's prompt side


class Generate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.dir = cls.tmp.name
        cls.model = make_model(d, seed=3)
        shutil.copy(os.path.join(REAL_DIR, "preprocessor_config.json"), cls.model)
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(os.path.join(d, "a.png"))
        t = np.arange(24000) / 16000
        with wave.open(os.path.join(d, "s.wav"), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
            w.writeframes((0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype("<i2").tobytes())
        write_video(os.path.join(d, "clip.mp4"), 1.5, 8, (96, 72), 16000, 1, 3)
        cls.thinker = Qwen3OmniMoeForConditionalGeneration.from_pretrained(cls.model, dtype=torch.float32).thinker.eval()
        cls.processor = AutoProcessor.from_pretrained(cls.model)
        cls.report = []

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        print("\n".join(["", "generate vs transformers (greedy):"] + cls.report))

    def ours(self, *args, name="run"):
        out, inputs = (os.path.join(self.dir, f"{name}.{ext}") for ext in ("json", "safetensors"))
        r = omnitune("generate", "--model", self.model, "--max-new-tokens", NEW_TOKENS, "--json", out,
                     "--save-inputs", inputs, *args)
        with open(out) as f:
            result = json.load(f)
        with safe_open(inputs, "pt") as f:
            audio_in_video = f.metadata().get("use_audio_in_video") == "true"
        return result, load_file(inputs), audio_in_video, r

    def reference(self, thinker, inputs, audio_in_video=False, eos=IM_END):
        with torch.no_grad():
            out = thinker.generate(**inputs, use_audio_in_video=audio_in_video, max_new_tokens=NEW_TOKENS,
                                   do_sample=False, eos_token_id=eos, pad_token_id=PAD)
        return out[0, inputs["input_ids"].shape[1]:].tolist()

    def check(self, label, *args, thinker=None, processor_text=None, processor_media=None):
        result, inputs, audio_in_video, run = self.ours(*args)
        if processor_text is not None:
            ref_ids = self.processor(text=[processor_text], return_tensors="pt", **(processor_media or {}))["input_ids"]
            self.assertEqual(result["prompt_ids"], ref_ids[0].tolist(), f"{label}: prompt tokens")
        self.assertEqual(inputs["input_ids"][0].tolist(), result["prompt_ids"])
        ref = self.reference(thinker or self.thinker, inputs, audio_in_video)
        self.assertEqual(result["new_token_ids"], ref, label)
        self.assertEqual(len(ref), NEW_TOKENS, f"{label}: the random model stopped early; pick another seed")
        self.assertIn("tokens/s", run.stderr)
        self.report.append(f"  {label}: {len(result['prompt_ids'])} prompt tokens, {len(ref)} new tokens identical")
        return result

    def test_text_prompt(self):
        result = self.check("text", "--prompt", "Hello, who are you?",
                            processor_text=f"<|im_start|>user\nHello, who are you?<|im_end|>\n<|im_start|>assistant\n{THINK}")
        self.assertTrue(result["text"])

    def test_image_and_audio_prompt(self):
        audio = np.frombuffer(wave.open(os.path.join(self.dir, "s.wav")).readframes(24000), "<i2").astype(np.float32) / 32768
        self.check("image + audio", "--prompt", "What do you see and hear?", "--image", os.path.join(self.dir, "a.png"),
                   "--audio", os.path.join(self.dir, "s.wav"),
                   processor_text="<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|><|audio_start|><|audio_pad|>"
                                  f"<|audio_end|>What do you see and hear?<|im_end|>\n<|im_start|>assistant\n{THINK}",
                   processor_media={"images": [Image.open(os.path.join(self.dir, "a.png"))], "audio": [audio]})

    def test_video_with_its_sound(self):
        self.check("video + its sound track", "--prompt", "<video>What happens?", "--video",
                   os.path.join(self.dir, "clip.mp4"), "--use-audio-in-video", "--template", "qwen3_omni_nothink")

    def test_messages_file(self):
        messages = [{"role": "system", "content": "You answer briefly."},
                    {"role": "user", "content": "<image>What is it?"}, {"role": "assistant", "content": "Noise."},
                    {"role": "user", "content": "And the colours?"}]
        path = os.path.join(self.dir, "messages.json")
        with open(path, "w") as f:
            json.dump({"messages": messages, "images": ["a.png"]}, f)
        self.check("messages file, two turns", "--messages", path,
                   processor_text="<|im_start|>system\nYou answer briefly.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
                                  f"<|image_pad|><|vision_end|>What is it?<|im_end|>\n<|im_start|>assistant\n{THINK}"
                                  f"Noise.<|im_end|>\n<|im_start|>user\nAnd the colours?<|im_end|>\n<|im_start|>assistant\n{THINK}",
                   processor_media={"images": [Image.open(os.path.join(self.dir, "a.png"))]})

    def test_peft_adapter(self):
        torch.manual_seed(5)
        full = Qwen3OmniMoeForConditionalGeneration.from_pretrained(self.model, dtype=torch.float32)
        peft_model = get_peft_model(full, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                                     init_lora_weights=False)).eval()
        adapter = os.path.join(self.dir, "adapter")
        peft_model.save_pretrained(adapter)
        plain = self.ours("--prompt", "Tell me a story.", name="plain")[0]
        result = self.check("PEFT adapter (q/v/down_proj)", "--prompt", "Tell me a story.", "--adapter", adapter,
                            thinker=peft_model.base_model.model.thinker)
        self.assertNotEqual(result["new_token_ids"], plain["new_token_ids"], "the adapter changed nothing")

    def test_stops_at_an_end_token(self):
        result = self.ours("--prompt", "Count to ten.", name="free")[0]
        stop = result["new_token_ids"][4]
        first = result["new_token_ids"].index(stop)
        config = os.path.join(self.model, "generation_config.json")
        with open(config, "w") as f:
            json.dump({"eos_token_id": [IM_END, stop]}, f)
        try:
            stopped, inputs, _, _ = self.ours("--prompt", "Count to ten.", name="stopped")
        finally:
            os.remove(config)
        self.assertEqual(stopped["stop"], "end_token")
        self.assertEqual(stopped["new_token_ids"], result["new_token_ids"][:first + 1])
        self.assertEqual(stopped["new_token_ids"], self.reference(self.thinker, inputs, eos=[IM_END, stop]))

    def test_bad_requests_are_refused(self):
        image = os.path.join(self.dir, "a.png")
        messages = os.path.join(self.dir, "ends_with_answer.json")
        with open(messages, "w") as f:
            json.dump([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], f)
        cases = [(("--prompt", "x", "--messages", messages), "one of --prompt"),
                 (("--prompt", "<image><image>Two?", "--image", image), "2 <image> placeholder(s) but 1"),
                 (("--messages", messages), "the last message must be the user's"),
                 (("--prompt", "x", "--attn", "flash_attention_2"), "not supported by generate"),
                 (("--prompt", "x", "--top-p", "0"), "--top-p"),
                 (("--prompt", "x", "--template", "qwen3"), "qwen3_omni")]
        for args, message in cases:
            r = omnitune("generate", "--model", self.model, *args, check=False)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(message, r.stderr, args)
        # The prompt is built before the weights load: a model without weights still reports the prompt's error.
        no_weights = os.path.join(self.dir, "no_weights")
        os.makedirs(no_weights, exist_ok=True)
        for f in os.listdir(self.model):
            if ".safetensors" not in f and not os.path.exists(os.path.join(no_weights, f)):
                os.symlink(os.path.join(self.model, f), os.path.join(no_weights, f))
        for args, message in cases[1:3]:
            r = omnitune("generate", "--model", no_weights, *args, check=False)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(message, r.stderr, args)


if __name__ == "__main__":
    unittest.main()
