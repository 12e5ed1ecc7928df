"""`omnitune forward` against transformers' Qwen3-Omni thinker, run live on the same weights and batch.

Weights come from `omnitune init-model`, are loaded by transformers (no missing/unexpected keys),
perturbed so that norms and biases are not trivial, and saved back with save_pretrained. Both sides
then run the same batches: fp32 logits, loss, position ids and every parameter gradient must agree;
bf16 losses within 1e-2.
"""
import json
import os
import tempfile
import unittest

import torch
from safetensors.torch import load_file, save_file
from transformers import Qwen3OmniMoeConfig, Qwen3OmniMoeForConditionalGeneration

from omni_batches import Builder
from parity_util import grad_errors, hf_grads_by_disk_name, rel
from tiny_models import TINY_CONFIG
from common import omnitune



def other_config():
    """A second config with different shapes: GQA 6/3, head_dim 16, 6 experts top-3 without renormalisation,
    a dense mlp_only layer, router aux loss on, 2 vision blocks, 1 audio layer with a 52-token window."""
    with open(TINY_CONFIG) as f:
        d = json.load(f)
    t = d["thinker_config"]
    t["text_config"].update(hidden_size=96, num_attention_heads=6, num_key_value_heads=3, head_dim=16, num_hidden_layers=3,
                            num_experts=6, num_experts_per_tok=3, moe_intermediate_size=24, norm_topk_prob=False,
                            mlp_only_layers=[2], intermediate_size=80, output_router_logits=True,
                            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 2, 2],
                                             "interleaved": True, "mrope_interleaved": True})
    t["vision_config"].update(depth=2, hidden_size=48, num_heads=3, intermediate_size=72, deepstack_visual_indexes=[0, 1],
                              num_position_embeddings=36, out_hidden_size=96)
    t["audio_config"].update(d_model=48, encoder_attention_heads=3, encoder_layers=1, encoder_ffn_dim=64,
                             downsample_hidden_size=12, output_dim=96, n_window_infer=400)
    return d


class ThinkerParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.models = {}
        for label, config in (("tiny", None), ("other", other_config())):
            cfg_dir = os.path.join(cls.tmp.name, f"{label}-config")
            if config is None:
                cfg_dir = os.path.dirname(TINY_CONFIG)
            else:
                Qwen3OmniMoeConfig(**config).save_pretrained(cfg_dir)
            init_dir = os.path.join(cls.tmp.name, f"{label}-init")
            omnitune("init-model", "--config", cfg_dir, "--out", init_dir, "--seed", "7")
            model, info = Qwen3OmniMoeForConditionalGeneration.from_pretrained(init_dir, dtype=torch.float32,
                                                                               output_loading_info=True)
            for key in ("missing_keys", "unexpected_keys", "mismatched_keys"):
                assert not info[key], f"transformers loading {label}: {key} {info[key]}"
            gen = torch.Generator().manual_seed(3)
            with torch.no_grad():  # make norms, biases and every other tensor non-trivial
                for p in model.parameters():
                    p.add_(torch.randn(p.shape, generator=gen) * 0.05)
            model_dir = os.path.join(cls.tmp.name, label)
            model.save_pretrained(model_dir)
            cls.models[label] = (model_dir, model.config)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def batches(self, cfg):
        gen = torch.Generator().manual_seed(11)
        out = {}
        b = Builder(cfg, gen)
        b.row(b.text(14), prompt=4)
        out["text"] = b.build()
        b = Builder(cfg, gen)
        b.row(b.text(3), b.image(1, 4, 6), b.text(5), b.image(1, 2, 2), b.text(4))
        out["image"] = b.build()
        b = Builder(cfg, gen)
        b.row(b.text(3), b.video(2, 4, 4, spg=1.0), b.text(2), b.video(3, 2, 4, spg=0.8), b.text(4))
        out["video"] = b.build()
        b = Builder(cfg, gen)
        b.row(b.text(3), b.audio(370), b.text(6))  # 48 audio tokens: longer than one attention window
        out["audio"] = b.build()
        b = Builder(cfg, gen)
        b.row(b.text(3), b.image(1, 4, 4), b.audio(157), b.text(5))
        b.row(b.text(2), b.video(2, 4, 4), b.text(3), b.audio(230), b.image(1, 2, 4), b.text(2))
        b.row(b.text(4), b.text(3))
        out["mixed_batch"] = b.build()
        b = Builder(cfg, gen)
        b.row(b.text(3), b.video_with_audio(2, 4, 4, 200), b.text(4))
        b.row(b.text(2), b.video_with_audio(3, 2, 2, 320, spg=0.8), b.text(2))
        out["audio_in_video"] = b.build(use_audio_in_video=True)
        return out

    def run_both(self, label, name, batch, dtype, extra=()):
        model_dir, cfg = self.models[label]
        work = tempfile.mkdtemp(dir=self.tmp.name)
        tensors = {k: v for k, v in batch.items() if k != "use_audio_in_video"}
        save_file(tensors, os.path.join(work, "batch.safetensors"),
                  metadata={"use_audio_in_video": "true" if batch["use_audio_in_video"] else "false"})
        grads = dtype == "fp32"
        omnitune("forward", "--model", model_dir, "--batch", os.path.join(work, "batch.safetensors"), "--out",
            os.path.join(work, "out.safetensors"), "--dtype", dtype, *(["--grads"] if grads else []), *extra)
        ours = load_file(os.path.join(work, "out.safetensors"))

        torch_dtype = torch.float32 if dtype == "fp32" else torch.bfloat16
        model = Qwen3OmniMoeForConditionalGeneration.from_pretrained(model_dir, dtype=torch_dtype)
        thinker = model.thinker
        kwargs = {k: (v.to(torch_dtype) if v.is_floating_point() and k != "video_second_per_grid" else v)
                  for k, v in tensors.items()}
        ref = thinker(**kwargs, use_audio_in_video=batch["use_audio_in_video"])
        pos, _ = thinker.get_rope_index(batch["input_ids"], kwargs.get("image_grid_thw"), kwargs.get("video_grid_thw"),
                                        batch["attention_mask"], batch["use_audio_in_video"],
                                        batch["feature_attention_mask"].sum(1) if "feature_attention_mask" in batch else None,
                                        kwargs.get("video_second_per_grid"))
        return ours, ref, pos, thinker

    def check_fp32(self, label, name, batch, extra=()):
        ours, ref, pos, thinker = self.run_both(label, name, batch, "fp32", extra)
        where = f"{label}/{name} {' '.join(extra)}"
        self.assertTrue(torch.equal(ours["position_ids"], pos.to(ours["position_ids"].dtype)), where)
        self.assertEqual(ours["position_ids"].dtype, pos.dtype, where)
        if "--loss-chunk" in extra:  # fused lm_head + loss: no logits by design
            self.assertNotIn("logits", ours, where)
        elif "TND" in extra:  # packed attention leaves padded positions at zero: compare real tokens only
            real = batch["attention_mask"].bool()
            self.assertLessEqual(rel(ours["logits"][real], ref.logits.detach()[real]), 1e-5, where)
        else:
            self.assertLessEqual(rel(ours["logits"], ref.logits.detach()), 1e-5, where)
        self.assertLessEqual(abs(ours["loss"].item() - ref.loss.item()), 1e-5, where)
        if ref.aux_loss is not None:
            self.assertLessEqual(abs(ours["aux_loss"].item() - ref.aux_loss.item()), 1e-5, where)
        ref.loss.backward()
        ref_grads = hf_grads_by_disk_name(thinker)
        ours_grads = {k[len("grad."):]: v for k, v in ours.items() if k.startswith("grad.")}
        self.assertEqual(sorted(ours_grads), sorted(ref_grads), where)
        worst = 0.0
        for k, (err, bound) in grad_errors(ours_grads, ref_grads).items():
            worst = max(worst, err / bound)
            self.assertLessEqual(err, bound, f"{where}: grad {k}")
        print(f"{where}: |dloss| {abs(ours['loss'].item() - ref.loss.item()):.2e}, worst grad err/bound {worst:.3f}",
              flush=True)
        return worst

    def test_fp32_tiny(self):
        cfg = self.models["tiny"][1]
        for name, batch in self.batches(cfg).items():
            with self.subTest(batch=name):
                self.check_fp32("tiny", name, batch)

    def test_fp32_other_shapes(self):
        cfg = self.models["other"][1]
        for name, batch in self.batches(cfg).items():
            with self.subTest(batch=name):
                self.check_fp32("other", name, batch)

    def test_backends_and_moe_paths(self):
        cfg = self.models["tiny"][1]
        batch = self.batches(cfg)["mixed_batch"]
        for extra in (["--attn", "eager"], ["--attn-layout", "BSND"], ["--attn-layout", "TND"], ["--moe-impl", "loop"],
                      ["--loss-chunk", "5"], ["--text-attn", "eager:BNSD", "--vision-attn", "sdpa:TND", "--audio-attn", "eager"]):
            with self.subTest(extra=extra):
                self.check_fp32("tiny", "mixed_batch", batch, tuple(extra))

    def test_bf16_position_ids_option(self):
        """--bf16-position-ids equals the reference fed position ids rounded to bf16 (the seed's alignment)."""
        model_dir, cfg = self.models["tiny"]
        gen = torch.Generator().manual_seed(5)
        b = Builder(cfg, gen)
        b.row(b.text(40), b.image(1, 4, 4), b.text(560))  # positions past 512: bf16 keeps multiples of 4
        batch = b.build()
        work = tempfile.mkdtemp(dir=self.tmp.name)
        tensors = {k: v for k, v in batch.items() if k != "use_audio_in_video"}
        save_file(tensors, os.path.join(work, "batch.safetensors"))
        outs = {}
        for flag in ([], ["--bf16-position-ids"]):
            out = os.path.join(work, f"out{len(flag)}.safetensors")
            omnitune("forward", "--model", model_dir, "--batch", os.path.join(work, "batch.safetensors"), "--out", out, *flag)
            outs[len(flag)] = load_file(out)
        thinker = Qwen3OmniMoeForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).thinker
        pos, _ = thinker.get_rope_index(batch["input_ids"], batch["image_grid_thw"], None, batch["attention_mask"])
        ref = thinker(**tensors, position_ids=pos.to(torch.bfloat16).float()).logits.detach()
        self.assertLessEqual(rel(outs[1]["logits"], ref), 1e-5)
        self.assertGreater(rel(outs[0]["logits"], ref), 1e-4)  # the rounding really changes the result

    def test_bf16_loss(self):
        cfg = self.models["tiny"][1]
        for name, batch in self.batches(cfg).items():
            with self.subTest(batch=name):
                ours, ref, _, _ = self.run_both("tiny", name, batch, "bf16")
                rel_loss = abs(ours["loss"].item() - ref.loss.item()) / abs(ref.loss.item())
                print(f"bf16 {name}: loss {ours['loss'].item():.5f} vs {ref.loss.item():.5f} (rel {rel_loss:.2e})", flush=True)
                self.assertLessEqual(rel_loss, 1e-2, name)


if __name__ == "__main__":
    unittest.main()
