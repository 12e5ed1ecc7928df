"""omnitune convert on tiny models: HF -> training checkpoint -> HF is bit-exact (names, dtypes, shapes,
bytes), with and without a talker; the checkpoint holds what the seed's ExpertMergeDcpConverter defines
(computed here from the original tensors); the export loads in transformers with no missing or unexpected
keys, and `omnitune forward` gives the same logits on the original, the export and the checkpoint."""
import json
import os
import re
import shutil
import tempfile
import unittest

import torch
from safetensors.torch import load_file, save_file
from transformers import Qwen3OmniMoeForConditionalGeneration

from convert_util import assert_same_tensors, file_bytes, load_in_transformers, non_weight_files, tensors
from omni_batches import Builder
from common import TINY_CONFIG, TOKENIZER_DIR, omnitune
from tiny_models import tiny_model



def expected_checkpoint(hf, prefix=""):
    """The seed's hf_to_dcp (mindspeed_mm_inventory.md §7.1) on a dict of HF tensors: `thinker.` stripped,
    gate_up_proj[e] = cat([gate_e, up_e], 0).T, down_proj[e] = down_e.T, stacked over e; fp32; no talker."""
    out, experts = {}, {}
    for k, v in hf.items():
        if not k.startswith("thinker."):
            continue
        k = k[len("thinker."):]
        m = re.fullmatch(r"(.*\.mlp\.experts)\.(\d+)\.(gate|up|down)_proj\.weight", k)
        if m:
            experts.setdefault(m[1], {}).setdefault(int(m[2]), {})[m[3]] = v
        else:
            out[prefix + k] = v.float()
    for base, per in experts.items():
        n = len(per)
        out[prefix + base + ".gate_up_proj"] = torch.stack(
            [torch.cat([per[e]["gate"], per[e]["up"]], 0).T for e in range(n)]).float()
        out[prefix + base + ".down_proj"] = torch.stack([per[e]["down"].T for e in range(n)]).float()
    return out


def add_assets(d):
    """The files a real model directory carries besides weights and config."""
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TOKENIZER_DIR, f), d)
    with open(os.path.join(d, "chat_template.jinja"), "w") as f:
        f.write("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump({"temperature": 0.7, "top_p": 0.8}, f)


class ConvertTiny(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        # A bf16 init-model checkpoint in several shards.
        cls.plain = os.path.join(cls.tmp.name, "plain")
        omnitune("init-model", "--config", os.path.dirname(TINY_CONFIG), "--out", cls.plain, "--seed", "5", "--dtype", "bf16",
            "--max-shard-size", "10MB")
        add_assets(cls.plain)
        # transformers' own save of a model with a talker (enable_audio_output): bf16 thinker, fp32 talker/code2wav.
        cls.talker_model = tiny_model(with_talker=True, seed=1)
        cls.talker_model.thinker.to(torch.bfloat16)
        cls.talker = os.path.join(cls.tmp.name, "talker")
        cls.talker_model.save_pretrained(cls.talker)
        add_assets(cls.talker)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def hf_to_dcp(self, hf, name, *extra):
        save = self.path(name)
        omnitune("convert", "hf-to-dcp", "--hf-dir", hf, "--save-dir", save, *extra)
        return save

    def assert_loads_like_original(self, export, original):
        """transformers loads the export with no missing, unexpected or mis-shaped key, to the same weights."""
        model = load_in_transformers(self, export)
        reference = Qwen3OmniMoeForConditionalGeneration.from_pretrained(original, dtype=torch.float32).state_dict()
        state = model.state_dict()
        self.assertEqual(sorted(state), sorted(reference))
        for k, v in state.items():
            self.assertTrue(torch.equal(v, reference[k]), k)
        return model

    def test_checkpoint_holds_merged_fp32_thinker_tensors(self):
        save = self.hf_to_dcp(self.plain, "ckpt-plain")
        self.assertEqual(file_bytes(os.path.join(save, "latest_checkpointed_iteration.txt")), b"release")
        release = os.path.join(save, "release")
        with open(os.path.join(release, "checkpoint.json")) as f:
            info = json.load(f)
        self.assertEqual((info["format"], info["version"], info["kind"], info["dcp_prefix"]),
                         ("omnitune-checkpoint", 1, "release", ""))
        self.assertEqual(file_bytes(os.path.join(release, "config.json")), file_bytes(os.path.join(self.plain, "config.json")))
        ours = load_file(os.path.join(release, "model.safetensors"))
        expected = expected_checkpoint(tensors(self.plain))
        self.assertEqual(sorted(ours), sorted(expected))
        self.assertIn("model.layers.0.mlp.experts.gate_up_proj", ours)
        for k, v in expected.items():
            self.assertEqual(ours[k].dtype, torch.float32, k)
            self.assertTrue(torch.equal(ours[k], v), k)

    def test_round_trip_is_bit_exact_and_copies_every_file(self):
        save = self.hf_to_dcp(self.plain, "rt-plain")
        out = self.path("rt-plain-hf")
        omnitune("convert", "dcp-to-hf", "--hf-dir", self.plain, "--dcp-dir", save, "--save-dir", out, "--max-shard-size", "10MB")
        n = assert_same_tensors(self, self.plain, out)
        self.assertGreater(n, 200)
        self.assertTrue(os.path.exists(os.path.join(out, "model.safetensors.index.json")))
        self.assertEqual(non_weight_files(out), non_weight_files(self.plain))
        self.assertIn("chat_template.jinja", non_weight_files(out))
        for f in non_weight_files(self.plain):
            self.assertEqual(file_bytes(os.path.join(out, f)), file_bytes(os.path.join(self.plain, f)), f)
        self.assertEqual([f for f in os.listdir(self.tmp.name) if ".partial-" in f], [])

        self.assert_loads_like_original(out, self.plain)

    def test_talker_comes_back_byte_identical(self):
        save = self.hf_to_dcp(self.talker, "rt-talker")
        in_checkpoint = load_file(os.path.join(save, "release", "model.safetensors"))
        self.assertFalse([k for k in in_checkpoint if k.startswith(("talker.", "code2wav."))])
        out = self.path("rt-talker-hf")
        omnitune("convert", "dcp-to-hf", "--hf-dir", self.talker, "--dcp-dir", os.path.join(save, "release"), "--save-dir", out)
        original = tensors(self.talker)
        self.assertTrue(any(k.startswith("talker.") for k in original))
        self.assertTrue(any(k.startswith("code2wav.") for k in original))
        self.assertEqual({v.dtype for k, v in original.items() if k.startswith("thinker.")}, {torch.bfloat16})
        assert_same_tensors(self, self.talker, out)

        model = self.assert_loads_like_original(out, self.talker)
        self.assertTrue(model.has_talker)

    def test_dtype_option_casts_the_thinker_only(self):
        save = self.hf_to_dcp(self.talker, "dtype-talker")
        out = self.path("dtype-talker-hf")
        omnitune("convert", "dcp-to-hf", "--hf-dir", self.talker, "--dcp-dir", save, "--save-dir", out, "--dtype", "fp32")
        original, ours = tensors(self.talker), tensors(out)
        self.assertEqual(sorted(original), sorted(ours))
        for k, v in original.items():
            if k.startswith("thinker."):
                self.assertEqual(ours[k].dtype, torch.float32, k)
                self.assertTrue(torch.equal(ours[k], v.float()), k)
            else:
                self.assertTrue(torch.equal(ours[k], v) and ours[k].dtype == v.dtype, k)
        with open(os.path.join(self.talker, "config.json")) as f:
            self.assertEqual(json.load(f)["dtype"], "bfloat16")
        with open(os.path.join(out, "config.json")) as f:
            self.assertEqual(json.load(f)["dtype"], "float32")  # what transformers' dtype="auto" loads

    def test_forward_on_export_and_checkpoint_equals_original(self):
        save = self.hf_to_dcp(self.plain, "fw-plain")
        out = self.path("fw-plain-hf")
        omnitune("convert", "dcp-to-hf", "--hf-dir", self.plain, "--dcp-dir", save, "--save-dir", out)
        cfg = Qwen3OmniMoeForConditionalGeneration.config_class.from_pretrained(self.plain)
        b = Builder(cfg, torch.Generator().manual_seed(2))
        b.row(b.text(3), b.image(1, 4, 4), b.audio(157), b.text(5))
        b.row(b.text(2), b.video(2, 4, 4), b.text(6))
        batch = b.build()
        batch_path = self.path("fw-batch.safetensors")
        save_file({k: v for k, v in batch.items() if k != "use_audio_in_video"}, batch_path,
                  metadata={"use_audio_in_video": "false"})
        outputs = {}
        for label, model in (("original", self.plain), ("export", out), ("save root", save),
                             ("release dir", os.path.join(save, "release"))):
            result = self.path(f"fw-{label}.safetensors")
            omnitune("forward", "--model", model, "--batch", batch_path, "--out", result)
            outputs[label] = load_file(result)
        for label in ("export", "save root", "release dir"):
            for k in ("logits", "loss"):
                self.assertTrue(torch.equal(outputs[label][k], outputs["original"][k]), f"{label}: {k}")

    def test_seed_spelling_and_prefixes(self):
        save = self.path("seed")
        omnitune("convert", "ExpertMergeDcpConverter", "hf_to_dcp", "--hf_dir", self.plain, "--save_dir", save,
            "--dcp_prefix", "model.")
        names = load_file(os.path.join(save, "release", "model.safetensors"))
        self.assertEqual(sorted(names), sorted(expected_checkpoint(tensors(self.plain), prefix="model.")))
        out = self.path("seed-hf")
        omnitune("convert", "ExpertMergeDcpConverter", "dcp_to_hf", "--hf_dir", self.plain, "--dcp_dir",
            os.path.join(save, "release"), "--save_dir", out)
        assert_same_tensors(self, self.plain, out)

        save = self.hf_to_dcp(self.plain, "seed-hf-prefix", "--hf-prefix", "model.", "--dcp-prefix", "decoder.")
        names = load_file(os.path.join(save, "release", "model.safetensors"))
        self.assertIn("decoder.layers.0.mlp.experts.gate_up_proj", names)  # first "model." replaced
        self.assertIn("lm_head.weight", names)  # no "model." in it: unchanged
        self.assertIn("visual.blocks.0.attn.qkv.weight", names)
        out = self.path("seed-hf-prefix-hf")
        omnitune("convert", "dcp-to-hf", "--hf-dir", self.plain, "--dcp-dir", save, "--save-dir", out)
        assert_same_tensors(self, self.plain, out)


if __name__ == "__main__":
    unittest.main()
