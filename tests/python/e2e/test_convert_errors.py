"""omnitune convert refuses bad input with one clear error and writes nothing: a directory that is not a
Qwen3-Omni checkpoint, missing shards, an index pointing at a missing file, a training checkpoint made for
another config, an existing output directory without --overwrite."""
import json
import os
import shutil
import tempfile
import unittest

from convert_util import file_bytes, tensors
from common import TINY_CONFIG, omnitune


class ConvertErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.hf = os.path.join(cls.tmp.name, "hf")
        omnitune("init-model", "--config", os.path.dirname(TINY_CONFIG), "--out", cls.hf, "--max-shard-size", "15MB")
        cls.save = os.path.join(cls.tmp.name, "save")
        omnitune("convert", "hf-to-dcp", "--hf-dir", cls.hf, "--save-dir", cls.save)
        # The same architecture with one layer less: its checkpoints are not interchangeable with cls.hf's.
        with open(TINY_CONFIG) as f:
            config = json.load(f)
        config["thinker_config"]["text_config"]["num_hidden_layers"] = 3
        cls.other = os.path.join(cls.tmp.name, "other")
        os.makedirs(cls.other + "-config")
        with open(os.path.join(cls.other + "-config", "config.json"), "w") as f:
            json.dump(config, f)
        omnitune("init-model", "--config", cls.other + "-config", "--out", cls.other)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def copy_of(self, d):
        out = tempfile.mkdtemp(dir=self.tmp.name)
        shutil.copytree(d, out, dirs_exist_ok=True)
        return out

    def fails(self, *args, contains):
        out = os.path.join(self.tmp.name, "out")
        r = omnitune("convert", *args, check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertTrue(r.stderr.startswith("error: "), r.stderr)
        for text in contains if isinstance(contains, (list, tuple)) else [contains]:
            self.assertIn(text, r.stderr)
        self.assertFalse(os.path.exists(out), "output written despite the error")
        return r.stderr

    def hf_to_dcp(self, hf, contains):
        return self.fails("hf-to-dcp", "--hf-dir", hf, "--save-dir", os.path.join(self.tmp.name, "out"), contains=contains)

    def dcp_to_hf(self, hf, dcp, contains, *extra):
        return self.fails("dcp-to-hf", "--hf-dir", hf, "--dcp-dir", dcp, "--save-dir", os.path.join(self.tmp.name, "out"), *extra,
                          contains=contains)

    def test_not_a_qwen3_omni_checkpoint(self):
        self.hf_to_dcp(os.path.join(self.tmp.name, "nothing"), "nothing: no such Hugging Face model directory")
        d = tempfile.mkdtemp(dir=self.tmp.name)
        self.hf_to_dcp(d, f"{d}: no config.json: not a Hugging Face model directory")
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"model_type": "qwen2", "hidden_size": 64}, f)
        self.hf_to_dcp(d, "not a Qwen3-Omni config (no 'thinker_config' and model_type is not 'qwen3_omni_moe_thinker')")
        # A Qwen3-Omni config over weights of something else: every missing and unexpected tensor is named.
        d = self.copy_of(self.hf)
        index = os.path.join(d, "model.safetensors.index.json")
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        shard = os.path.join(d, weight_map["thinker.model.norm.weight"])
        from safetensors.torch import load_file, save_file
        t = load_file(shard)
        t["model.norm.weight"] = t.pop("thinker.model.norm.weight")
        save_file(t, shard)
        weight_map["model.norm.weight"] = weight_map.pop("thinker.model.norm.weight")
        with open(index, "w") as f:
            json.dump({"weight_map": weight_map}, f)
        self.hf_to_dcp(d, [f"{d}: checkpoint does not match the model config", "1 missing tensors:\n    thinker.model.norm.weight",
                           "1 unexpected tensors:\n    model.norm.weight"])

    def test_missing_shard_and_index_pointing_at_a_missing_file(self):
        d = self.copy_of(self.hf)
        with open(os.path.join(d, "model.safetensors.index.json")) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        self.assertGreater(len(shards), 2)
        os.remove(os.path.join(d, shards[1]))
        self.hf_to_dcp(d, f"model.safetensors.index.json: points at missing shard '{shards[1]}'")
        self.dcp_to_hf(d, self.save, f"points at missing shard '{shards[1]}'")

        d = self.copy_of(self.hf)
        index = os.path.join(d, "model.safetensors.index.json")
        with open(index) as f:
            j = json.load(f)
        j["weight_map"]["thinker.lm_head.weight"] = "model-00099-of-00099.safetensors"
        with open(index, "w") as f:
            json.dump(j, f)
        self.hf_to_dcp(d, "points at missing shard 'model-00099-of-00099.safetensors' (for tensor 'thinker.lm_head.weight')")

        d = self.copy_of(self.save)  # a shard of the training checkpoint itself
        self.assertTrue(os.path.exists(os.path.join(d, "release", "model.safetensors")))
        os.remove(os.path.join(d, "release", "model.safetensors"))
        self.dcp_to_hf(self.hf, d, "release: no model.safetensors or model.safetensors.index.json")

    def test_checkpoint_of_another_config(self):
        self.dcp_to_hf(self.other, self.save, [f"checkpoint {self.save}/release: made for a different model config",
                                              "thinker_config.text_config.num_hidden_layers (checkpoint 4, expected 3)"])

    def test_not_a_training_checkpoint(self):
        self.dcp_to_hf(self.hf, self.hf, f"{self.hf}: a Hugging Face model directory, not a training checkpoint")
        d = self.copy_of(self.save)
        with open(os.path.join(d, "latest_checkpointed_iteration.txt"), "w") as f:
            f.write("30")
        self.dcp_to_hf(self.hf, d, f"latest_checkpointed_iteration.txt: names checkpoint '30', but {d}/iter_0000030 does not exist")
        with open(os.path.join(d, "latest_checkpointed_iteration.txt"), "w") as f:
            f.write("release")
        os.remove(os.path.join(d, "release", "checkpoint.json"))
        self.dcp_to_hf(self.hf, d, f"{d}/release: no checkpoint.json: not an OmniTune checkpoint directory")

    def test_existing_output_needs_overwrite(self):
        out = os.path.join(self.tmp.name, "existing")
        os.makedirs(out)
        with open(os.path.join(out, "stale.txt"), "w") as f:
            f.write("old")
        for args in (("hf-to-dcp", "--hf-dir", self.hf, "--save-dir", out),
                     ("dcp-to-hf", "--hf-dir", self.hf, "--dcp-dir", self.save, "--save-dir", out)):
            r = omnitune("convert", *args, check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"{out}: exists and is not empty; pass --overwrite to replace", r.stderr)
            self.assertEqual(os.listdir(out), ["stale.txt"])
        omnitune("convert", "dcp-to-hf", "--hf-dir", self.hf, "--dcp-dir", self.save, "--save-dir", out, "--overwrite")
        self.assertNotIn("stale.txt", os.listdir(out))
        self.assertEqual(sorted(tensors(out)), sorted(tensors(self.hf)))
        self.assertEqual([f for f in os.listdir(self.tmp.name) if f.startswith(".")], [])  # no staging or old copy left

        # hf-to-dcp --overwrite replaces release/ and the tracker, and leaves other entries alone.
        omnitune("convert", "hf-to-dcp", "--hf-dir", self.hf, "--save-dir", out, "--overwrite")
        self.assertEqual(file_bytes(os.path.join(out, "latest_checkpointed_iteration.txt")), b"release")
        self.assertIn("config.json", os.listdir(out))

    def test_save_dir_must_not_be_a_source(self):
        d = self.copy_of(self.hf)
        self.fails("dcp-to-hf", "--hf-dir", d, "--dcp-dir", self.save, "--save-dir", d, "--overwrite",
                   contains=f"--save-dir {d} is the input --hf-dir {d}")
        self.assertEqual(sorted(tensors(d)), sorted(tensors(self.hf)))

    def test_bad_options(self):
        self.dcp_to_hf(self.hf, self.save, "--dtype: 'int8' is not bf16, fp16 or fp32", "--dtype", "int8")
        self.dcp_to_hf(self.hf, self.save, "--max-shard-size '4XB'", "--max-shard-size", "4XB")


if __name__ == "__main__":
    unittest.main()
