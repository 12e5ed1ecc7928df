"""LoRA adapters (model.json `lora`), checked against transformers + peft run live: a few training steps make
the adapters non-trivial, `convert dcp-to-peft` exports them, PeftModel.from_pretrained loads them on the
Hugging Face base, and its logits equal `omnitune forward --adapter`, `omnitune forward` of the checkpoint and
transformers on `convert dcp-to-hf`'s export with the adapter merged (attention-only targets; all-linear + the MoE experts' merged tensors + lm_head in modules_to_save). A LoRA
run's checkpoint holds only the adapter; training lowers the loss and resumes on the straight run's curve with
the base re-read from its Hugging Face files (so the base never moved); the same run on 2 sharded ranks and on
2 context-parallel ranks, with recompute and offload, equals one process. Bad configs are refused with the entry named."""
import json
import os
import shutil
import tempfile
import unittest

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import Qwen3OmniMoeForConditionalGeneration

from common import omnitune
from distributed_fixture import DistributedCase, launch, rel as rel_float
from omni_batches import Builder
from parity_util import omnitune_forward, rel

ATTENTION = {"rank": 4, "alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
EVERYTHING = {"rank": 3, "alpha": 6, "use_rslora": True, "target_modules": "all-linear",
              "target_parameters": ["mlp.experts.gate_up_proj", "mlp.experts.down_proj"],
              "modules_to_save": ["lm_head"]}


def tensor_names(path):
    with safe_open(path, "pt") as f:
        return list(f.keys())


class Lora(DistributedCase):
    def lora_json(self, name, lora, recompute=False):
        def edit(cfg):
            cfg["lora"] = lora
            if recompute:  # the adapters are parameters of the recomputed layers (their gradients come back)
                cfg["text_decoder"]["recompute"] = True
                cfg["image_encoder"]["vision_encoder"]["activation_offload"] = True
        return self.model_json_with(f"{name}.json", edit)

    def lora_args(self, name, lora, iters, extra=(), lr="2e-2", recompute=False):
        """A LoRA run at a high LR (the adapters move far from their start) decaying over 20 steps whatever
        --train-iters (a run of 4 then resumed follows the straight run's schedule); global batch 4."""
        return ["--mm-data", self.data, "--mm-model", self.lora_json(name, lora, recompute), "--global-batch-size", "4",
                "--lr", lr, "--lr-decay-style", "linear", "--lr-decay-iters", "20", "--train-iters", str(iters), "--log-interval", "1", "--seed", "5", "--save",
                self.path(name), "--device", "cpu", "--distributed-timeout-minutes", "1", *extra]

    def train(self, name, lora, iters, world=1, extra=(), lr="2e-2", recompute=False):
        """metrics.jsonl of a LoRA run on `world` ranks."""
        args = self.lora_args(name, lora, iters, extra, lr, recompute)
        if world == 1:
            omnitune("train", *args)
        else:
            launch(world, *args)
        with open(self.path(name, "metrics.jsonl")) as f:
            return [json.loads(line) for line in f]

    def batch(self):
        cfg = Qwen3OmniMoeForConditionalGeneration.from_pretrained(self.model).config
        b = Builder(cfg, torch.Generator().manual_seed(11))
        b.row(b.text(3), b.image(1, 4, 4), b.audio(157), b.text(5))
        b.row(b.text(4), b.text(3))
        return b.build()

    def check_against_peft(self, name, lora):
        self.train(name, lora, iters=3)
        checkpoint = self.path(name, "iter_0000003")
        names = tensor_names(os.path.join(checkpoint, "model.safetensors"))
        saved = lora.get("modules_to_save", [])
        self.assertTrue(all("lora_" in n or any(n.startswith(m + ".") for m in saved) for n in names), names)
        adapter = self.path(f"{name}_peft")
        omnitune("convert", "dcp-to-peft", "--dcp-dir", self.path(name), "--save-dir", adapter)
        base = Qwen3OmniMoeForConditionalGeneration.from_pretrained(self.model, dtype=torch.float32)
        model = PeftModel.from_pretrained(base, adapter)
        batch = self.batch()
        tensors = {k: v for k, v in batch.items() if k != "use_audio_in_video"}
        with torch.no_grad():
            ref = model.base_model.model.thinker(**tensors).logits
            plain = Qwen3OmniMoeForConditionalGeneration.from_pretrained(self.model).thinker(**tensors).logits
        self.assertGreater(rel(plain, ref), 1e-2, f"{name}: the trained adapter changes the logits")
        work = tempfile.mkdtemp(dir=self.root)
        ours = omnitune_forward(self.model, batch, work, "--adapter", adapter, grads=False)["logits"]
        self.assertLessEqual(rel(ours, ref), 1e-5, f"{name}: forward --adapter vs peft")
        from_checkpoint = omnitune_forward(checkpoint, batch, work, grads=False)["logits"]
        self.assertLessEqual(rel(from_checkpoint, ref), 1e-5, f"{name}: forward of the checkpoint vs peft")
        merged_dir = self.path(f"{name}_merged")
        omnitune("convert", "dcp-to-hf", "--hf-dir", self.model, "--dcp-dir", self.path(name), "--save-dir",
                 merged_dir, "--dtype", "fp32")
        merged, info = Qwen3OmniMoeForConditionalGeneration.from_pretrained(merged_dir, dtype=torch.float32,
                                                                           output_loading_info=True)
        self.assertFalse(any(info.values()), info)
        with torch.no_grad():
            merged_logits = merged.thinker(**tensors).logits
        self.assertLessEqual(rel(merged_logits, ref), 1e-5, f"{name}: merged export vs peft")
        return names

    def test_attention_adapter_equals_peft(self):
        names = self.check_against_peft("attention", ATTENTION)
        self.assertIn("model.layers.0.self_attn.q_proj.lora_A", names)
        self.assertIn("audio_tower.layers.0.self_attn.k_proj.lora_B", names)  # PEFT's suffix rule: every tower
        # generate from the LoRA checkpoint (its base, the run's template and tokenizer) = PEFT's generate
        out, prompt = self.path("attention_reply.json"), self.path("attention_prompt.safetensors")
        omnitune("generate", "--model", self.path("attention"), "--prompt", "What colour is the square?",
                 "--max-new-tokens", "12", "--json", out, "--save-inputs", prompt)
        model = PeftModel.from_pretrained(Qwen3OmniMoeForConditionalGeneration.from_pretrained(self.model, dtype=torch.float32),
                                          self.path("attention_peft"))
        inputs = load_file(prompt)
        with torch.no_grad():
            ref = model.base_model.model.thinker.generate(**inputs, max_new_tokens=12, do_sample=False,
                                                          eos_token_id=151645, pad_token_id=151643)
        with open(out) as f:
            self.assertEqual(json.load(f)["new_token_ids"], ref[0, inputs["input_ids"].shape[1]:].tolist())

    def test_all_linear_experts_and_lm_head_equal_peft(self):
        names = self.check_against_peft("everything", EVERYTHING)
        for name in ("model.layers.1.mlp.experts.gate_up_proj_lora_A", "visual.blocks.0.attn.qkv.lora_B",
                     "audio_tower.conv_out.lora_A", "lm_head.weight"):
            self.assertIn(name, names)
        self.assertNotIn("model.layers.0.mlp.gate.lora_A", names)  # routers are not in all-linear

    def test_a_run_starts_from_a_peft_adapter(self):
        """model.json's pretrained_lora_path: the run trains the adapter PEFT wrote (its adapter_config.json sets the
        targets); at a vanishing LR the checkpoint holds that adapter unchanged, and the loss is not the base's."""
        torch.manual_seed(7)
        full = Qwen3OmniMoeForConditionalGeneration.from_pretrained(self.model, dtype=torch.float32)
        start = self.path("start_adapter")
        get_peft_model(full, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                        init_lora_weights=False)).save_pretrained(start)
        pretrained = self.train("pretrained", {"pretrained_lora_path": start}, iters=1, lr="1e-30")
        fresh = self.train("fresh", {"rank": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}, iters=1, lr="1e-30")
        self.assertGreater(rel_float(pretrained[0]["loss"], fresh[0]["loss"]), 1e-3, "the adapter changed nothing")
        exported = self.path("pretrained_peft")
        omnitune("convert", "dcp-to-peft", "--dcp-dir", self.path("pretrained"), "--save-dir", exported)
        before = load_file(os.path.join(start, "adapter_model.safetensors"))
        after = load_file(os.path.join(exported, "adapter_model.safetensors"))
        self.assertEqual(sorted(before), sorted(after))
        for name, value in before.items():
            self.assertTrue(torch.equal(value, after[name]), name)
        refused = omnitune("train", *self.lora_args("both", {"pretrained_lora_path": start, "rank": 8}, 1), check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("pretrained_lora_path the adapter's adapter_config.json sets it", refused.stderr)

    def test_training_lowers_the_loss_and_resumes_with_the_base_from_its_files(self):
        straight = self.train("straight", ATTENTION, iters=9)
        losses = [m["loss"] for m in straight]  # an epoch of the 12 rows is 3 steps: the first against the third
        self.assertLess(sum(losses[-3:]) / 3, sum(losses[:3]) / 3 - 0.1, losses)
        self.train("half", ATTENTION, iters=4)
        with open(self.path("half", "iter_0000004", "adapter_config.json")) as f:
            self.assertEqual(json.load(f)["base_model_name_or_path"], os.path.abspath(self.model))
        resumed = self.train("half", ATTENTION, iters=9, extra=("--load", self.path("half")))
        for m, r in zip(resumed[4:], straight[4:]):
            self.assertLessEqual(rel_float(m["loss"], r["loss"]), 1e-6, f"resumed step {r['iteration']}")

    def test_sharded_and_context_parallel_ranks_with_recompute_equal_one_process(self):
        yaml = self.path("fsdp2.yaml")
        with open(yaml, "w") as f:
            f.write("sharding_size: auto\nparam_dtype: fp32\nreduce_dtype: fp32\n")
        # a low LR: AdamW's first steps move every element by ~LR whatever its gradient, so a high one turns the
        # ranks' other summation order (1e-7) into visible differences
        one = self.train("one", EVERYTHING, iters=4, lr="1e-3")
        for name, extra, tol in (("sharded", ("--fsdp2-config", yaml), 1e-6),
                                 ("cp2", ("--context-parallel-size", "2"), 1e-5)):
            ours = self.train(name, EVERYTHING, iters=4, world=2, extra=extra, lr="1e-3", recompute=True)
            for m, r in zip(ours, one):
                self.assertLessEqual(rel_float(m["loss"], r["loss"]), tol, f"{name} step {r['iteration']}")
                self.assertLessEqual(rel_float(m["grad_norm"], r["grad_norm"]), 1e-4, f"{name} step {r['iteration']}")

    def test_flags_turn_lora_on_and_override_model_json(self):
        args = self.lora_args("flags", {"enable": False, "rank": 8}, 1,
                              extra=("--lora-rank", "2", "--lora-alpha", "3", "--lora-target-modules", "q_proj,v_proj",
                                     "--lora-modules-to-save", "lm_head"))
        omnitune("train", *args)
        with open(self.path("flags", "iter_0000001", "adapter_config.json")) as f:
            config = json.load(f)
        self.assertEqual((config["r"], config["lora_alpha"], config["modules_to_save"]), (2, 3, ["lm_head"]))
        self.assertTrue(config["target_modules"], config)
        self.assertTrue(all(t.endswith(("q_proj", "v_proj")) for t in config["target_modules"]), config)

    def test_broken_adapters_are_errors_naming_what_is_wrong(self):
        self.train("small", ATTENTION, iters=1)
        adapter = self.path("small_peft")
        omnitune("convert", "dcp-to-peft", "--dcp-dir", self.path("small"), "--save-dir", adapter)
        batch = self.batch()
        work = tempfile.mkdtemp(dir=self.root)

        def broken(name, change):
            target = self.path(name)
            shutil.copytree(adapter, target)
            change(target)
            return target

        def dora(d):
            with open(os.path.join(d, "adapter_config.json")) as f:
                config = json.load(f)
            config["use_dora"] = True
            with open(os.path.join(d, "adapter_config.json"), "w") as f:
                json.dump(config, f)

        def renamed(d):
            tensors = load_file(os.path.join(d, "adapter_model.safetensors"))
            key = sorted(tensors)[0]
            tensors[key.replace("lora_A", "lora_X")] = tensors.pop(key)
            save_file(tensors, os.path.join(d, "adapter_model.safetensors"))

        for name, change, message in (
                ("no_weights", lambda d: os.remove(os.path.join(d, "adapter_model.safetensors")),
                 "no adapter_model.safetensors"),
                ("dora", dora, "use_dora: is not supported yet"),
                ("renamed", renamed, "missing: 1 (first base_model.model.thinker.audio_tower.layers.0.self_attn.")):
            with self.assertRaises(AssertionError) as caught:
                omnitune_forward(self.model, batch, work, "--adapter", broken(name, change), grads=False)
            self.assertIn(message, str(caught.exception), name)
        # a LoRA checkpoint whose base model has gone: named, nothing trains
        moved = self.path("small_moved")
        shutil.copytree(self.path("small"), moved)
        config_path = os.path.join(moved, "iter_0000001", "adapter_config.json")
        with open(config_path) as f:
            config = json.load(f)
        config["base_model_name_or_path"] = self.path("gone")
        with open(config_path, "w") as f:
            json.dump(config, f)
        r = omnitune("train", *self.lora_args("small_moved", ATTENTION, 2, extra=("--load", moved)), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"the LoRA adapter's base model {self.path('gone')}", r.stdout + r.stderr)

    def test_refusals(self):
        for lora, message in (
                ({"target_modules": ["q_prj"]}, "'q_prj' matches nothing (did you mean 'q_proj'?)"),
                ({"target_modules": ["lm_head"]}, "LoRA on lm_head is not supported"),
                ({"target_parameters": ["mlp.experts.gate_up_proj"], "dropout": 0.1}, "dropout"),
                ({"init_lora_weights": "pissa"}, "init_lora_weights"),
                ({"rank": 0}, "rank")):
            name = f"refused{len(message)}"
            r = omnitune("train", *self.lora_args(name, lora, 1), check=False)
            self.assertNotEqual(r.returncode, 0, lora)
            self.assertIn(message, r.stdout + r.stderr, lora)
            self.assertIn("$.lora", r.stdout + r.stderr, lora)


if __name__ == "__main__":
    unittest.main()
