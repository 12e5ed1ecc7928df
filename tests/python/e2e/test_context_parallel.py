"""Ulysses context parallelism on CPU ranks (Gloo, loopback): the ranks of a CP group read the same samples,
each runs its part of every sequence through the LLM and exchanges heads for sequence around each attention.
CP 2, CP 4 (more ranks than the tiny LLM's 2 key/value heads) and DP 2 x CP 2 equal the single process on the
same global batch, on padded micro-batches of 2 whose lengths CP mostly does not divide, with images, audio
and text rows; every LLM attention implementation x layout pair of the CPU (sdpa, eager x BNSD, TND), the
per-sample loss with the router aux loss and chunked loss; video with use_audio_in_video; CP inside FSDP2 sharding with recompute and activation offload; a checkpoint of
DP 2 x CP 2 resumes on one process. The vision and audio towers split their patches / tokens over CP 2 (their
2 heads) and run whole on each rank at CP 4. Other algorithms and sizes are refused."""
import unittest

from distributed_fixture import DistributedCase, launch, recompute_offload_frozen, rel, weights_max_diff

GBS, STEPS = 4, 4  # micro-batches of 2: padded; GBS divisible by 2 x 2 data-parallel ranks


class ContextParallel(DistributedCase):
    def cp_run(self, world, cp, name, **kw):
        extra = ("--context-parallel-size", str(cp), *kw.pop("extra", ()))
        return self.run_on(world, name=name, gbs=GBS, mbs=2, extra=extra, **{"iters": STEPS, **kw})

    def assert_equal_runs(self, ours, ref, label, names):
        self.assertEqual([m["iteration"] for m in ours], [m["iteration"] for m in ref], label)
        for m, r in zip(ours, ref):
            self.assertLessEqual(rel(m["loss"], r["loss"]), 1e-5, f"{label} step {r['iteration']}: loss")
            self.assertLessEqual(rel(m["grad_norm"], r["grad_norm"]), 1e-4, f"{label} step {r['iteration']}: grad")
            if "aux_loss" in r:
                self.assertLessEqual(rel(m["aux_loss"], r["aux_loss"]), 1e-5, f"{label} step {r['iteration']}: aux")
            self.assertEqual((m["tokens"], m["labels"]), (r["tokens"], r["labels"]), label)
        last = f"iter_{STEPS:07d}"
        # AdamW moves every element by ~lr at first: gradient differences of 1e-7 on elements near zero
        # show here as up to ~1e-5
        self.assertLessEqual(weights_max_diff(self.path(names[0], last), self.path(names[1], last)), 1e-4, label)

    def per_token_model(self):
        return self.model_json_with("per_token.json", lambda cfg: cfg["loss_cfg"].update(loss_type="per_token_loss"))

    def test_cp2_cp4_and_dp2_cp2_equal_one_process(self):
        """per_token_loss: with 2 data-parallel ranks the micro-batches hold other rows than the single process's
        (the sampler deals rows to the ranks in turn), which only this loss type does not see."""
        model_json = self.per_token_model()
        one = self.cp_run(1, 1, "one", model_json=model_json)
        for world, cp in ((2, 2), (4, 4), (4, 2)):
            name = f"world{world}_cp{cp}"
            self.assert_equal_runs(self.cp_run(world, cp, name, model_json=model_json), one, name, (name, "one"))

    def test_checkpoint_of_cp_resumes_on_one_process(self):
        """3 steps at DP 2 x CP 2 (sharded), then the checkpoint resumes on one process: the same curve."""
        model_json = self.per_token_model()
        one = self.cp_run(1, 1, "one", model_json=model_json)
        yaml = self.path("fsdp2.yaml")
        with open(yaml, "w") as f:
            f.write("sharding_size: auto\nparam_dtype: fp32\nreduce_dtype: fp32\n")
        self.cp_run(4, 2, "half_dp2_cp2", model_json=model_json, iters=STEPS // 2, extra=("--fsdp2-config", yaml))
        resumed = self.resume_copy("half_dp2_cp2", 1, gbs=GBS, mbs=2, model_json=model_json, iters=STEPS)
        self.assertEqual([m["iteration"] for m in resumed], list(range(STEPS // 2 + 1, STEPS + 1)))
        for m, r in zip(resumed, one[STEPS // 2:]):
            self.assertLessEqual(rel(m["loss"], r["loss"]), 1e-5, f"resumed step {r['iteration']}")

    def test_eager_tnd_per_sample_loss_aux_and_chunks(self):
        """eager attention everywhere; TND in the LLM and the vision tower."""
        def edit(cfg):
            cfg["text_decoder"].update({"attn_implementation": "eager", "attn_layout": "TND"})
            cfg["image_encoder"]["vision_encoder"].update({"attn_implementation": "eager", "attn_layout": "TND"})
            cfg["audio_encoder"]["audio_encoder"].update({"attn_implementation": "eager", "attn_layout": "BNSD"})
            cfg["loss_cfg"] = {"loss_type": "per_sample_loss", "compute_mode": "chunk", "chunk_size": 16,
                               "router_aux_loss_coef": 0.01}
        model_json = self.model_json_with("eager_tnd.json", edit)
        one = self.cp_run(1, 1, "eager_one", model_json=model_json)
        self.assertIn("aux_loss", one[0])
        for world in (2, 4):  # towers split over 2, whole at 4
            self.assert_equal_runs(self.cp_run(world, world, f"eager_cp{world}", model_json=model_json), one,
                                   f"eager TND CP {world}", (f"eager_cp{world}", "eager_one"))

    def test_llm_sdpa_tnd_and_eager_bnsd(self):
        """The LLM's other implementation x layout pairs (sdpa + BNSD is the default the other tests run), each
        against the single process of the default pair: the pairs agree to float rounding."""
        one = self.cp_run(1, 1, "one", model_json=self.per_token_model())
        for impl, layout, world in (("sdpa", "TND", 4), ("eager", "BNSD", 2)):
            name = f"{impl}_{layout}"
            model_json = self.model_json_with(f"{name}.json", lambda cfg: (
                cfg["text_decoder"].update({"attn_implementation": impl, "attn_layout": layout}),
                cfg["loss_cfg"].update(loss_type="per_token_loss")))
            ours = self.cp_run(world, world, f"{name}_cp{world}", model_json=model_json)
            self.assert_equal_runs(ours, one, f"{impl} {layout} CP {world}", (f"{name}_cp{world}", "one"))

    def test_video_with_its_audio_sharded_with_recompute_and_offload(self):
        """Video rows with use_audio_in_video next to text rows; CP 2 inside FSDP2 sharding; recompute (LLM,
        vision), activation offload (audio) and a frozen vision projector."""
        yaml = self.path("fsdp2.yaml")
        with open(yaml, "w") as f:
            f.write("sharding_size: auto\nparam_dtype: fp32\nreduce_dtype: fp32\n")
        model_json = self.model_json_with("recompute.json", recompute_offload_frozen)
        data = self.mixed_media_data()
        one = self.cp_run(1, 1, "video_one", data=data, model_json=model_json)
        ours = self.cp_run(2, 2, "video_cp2", data=data, model_json=model_json, extra=("--fsdp2-config", yaml))
        self.assert_equal_runs(ours, one, "video CP 2 sharded", ("video_cp2", "video_one"))

    def test_refusals(self):
        for extra, world, message in (
                (("--context-parallel-size", "3"), 2, "--context-parallel-size 3 does not divide the 2 ranks"),
                (("--context-parallel-size", "3"), 3, "the text decoder's 4 attention heads do not split over 3"),
                (("--context-parallel-algo", "megatron_cp_algo"), 2, "use ulysses_cp_algo")):
            p = launch(world, *self.args(self.path("refused"), extra=extra), check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(message, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
