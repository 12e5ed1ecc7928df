"""FSDP2 parameter sharding on CPU ranks (Gloo, loopback): each rank keeps rows of every parameter, gathers a
unit's weights for its forward and backward and reduce-scatters its gradients. Sharded over 2 and 3 ranks
(uneven rows), HSDP (4 ranks, shard groups of 2), a text-only rank next to a video+audio rank, recompute /
offload / a frozen tower and reshard_after_forward off all equal the single process on the same global batch.
A sharded checkpoint is blocks of rows with DCP_SHARDING_INFO: torch.distributed.checkpoint reads it, `convert
dcp-to-hf` exports it, and it resumes on other world sizes (HSDP 4 = 2 x 2 -> 2 and -> 1, 1 -> 3, and 3 -> 1
after a rank is killed)."""
import json
import os
import unittest

import torch
from safetensors.torch import load_file, save_file

from common import omnitune
from train_fixture import read_metrics
from distributed_fixture import (DistributedCase, STEPS, launch, model_tensors, recompute_offload_frozen, rel,
                                 weights_max_diff)

RESUME_GBS, RESUME_STEPS, RESUME_AT = 12, 6, 3  # 12 divides over 1, 2, 3 and 4 ranks


class Sharded(DistributedCase):
    def yaml(self, text="sharding_size: auto\nparam_dtype: fp32\nreduce_dtype: fp32\n", name="fsdp2.yaml"):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def sharded(self, world, name, yaml=None, **kw):
        extra = ("--fsdp2-config", yaml or self.yaml(), *kw.pop("extra", ()))
        return self.run_on(world, name=name, extra=extra, **kw)

    def test_sharded_over_2_and_3_ranks_equals_one_process(self):
        one = self.run_on(1)
        last = f"iter_{STEPS:07d}"
        for world in (2, 3):
            name = f"sharded{world}"
            self.assert_same_curve(self.sharded(world, name), one, f"sharded over {world}")
            self.assertLessEqual(weights_max_diff(self.path(name, last), self.path("world1", last)), 1e-6)
        files = sorted(f for f in os.listdir(self.path("sharded3", last)) if f.endswith(".safetensors"))
        self.assertEqual(files, [f"model-0000{k}-of-00003.safetensors" for k in (1, 2, 3)] +
                         [f"optimizer-0000{k}-of-00003.safetensors" for k in (1, 2, 3)] + ["rng.safetensors"])

    def test_sharded_checkpoint_opens_in_torch_dcp_and_converts(self):
        self.run_on(1), self.sharded(3, "sharded3")
        last = f"iter_{STEPS:07d}"
        ckpt, ref = self.path("sharded3", last), model_tensors(self.path("world1", last))
        from torch.distributed.checkpoint import HuggingFaceStorageReader, load
        state = {k: torch.empty_like(v) for k, v in ref.items()}
        load(state, storage_reader=HuggingFaceStorageReader(ckpt))
        self.assertLessEqual(max((state[k].double() - ref[k].double()).abs().max().item() for k in ref), 1e-6)
        for name in ("world1", "sharded3"):
            omnitune("convert", "dcp-to-hf", "--hf-dir", self.model, "--dcp-dir", self.path(name),
                     "--save-dir", self.path(f"export_{name}"))
        self.assertLessEqual(weights_max_diff(self.path("export_sharded3"), self.path("export_world1")), 1e-6)
        totals = [json.loads(omnitune("inspect", d, "--json", "--summary").stdout)["total"]
                  for d in (ckpt, self.path("world1", last))]
        self.assertEqual(totals[0]["parameters"], totals[1]["parameters"])
        self.assertEqual(totals[0]["tensors"], totals[1]["tensors"])
        batch = self.path("batch.safetensors")
        ids = torch.tensor([[1, 5, 9, 200, 31, 7, 64, 2]])
        save_file({"input_ids": ids, "attention_mask": torch.ones_like(ids)}, batch)
        for label, model in (("sharded", ckpt), ("export", self.path("export_sharded3"))):
            omnitune("forward", "--model", model, "--batch", batch, "--out", self.path(f"fw_{label}.safetensors"))
        self.assertTrue(torch.equal(load_file(self.path("fw_sharded.safetensors"))["logits"],
                                    load_file(self.path("fw_export.safetensors"))["logits"]))

    def test_a_job_of_one_rank_runs_the_distributed_code(self):
        """`launch --nproc-per-node 1 -- train --distributed-backend gloo` joins a job of one rank: `sharding_size:
        auto` shards over it (its gathers and reduce-scatters go through the process group) and the run equals
        the plain single process (the GPU check runs the same with nccl). Without a launcher the flag is refused."""
        p = launch(1, *self.args(self.path("job_of_one"), extra=("--fsdp2-config", self.yaml(),
                                                                  "--distributed-backend", "gloo")))
        self.assertIn("parameters sharded over 1 ranks", p.stdout + p.stderr)
        self.assert_same_curve(read_metrics(self.path("job_of_one")), self.run_on(1), "a job of one rank")
        last = f"iter_{STEPS:07d}"
        self.assertLessEqual(weights_max_diff(self.path("job_of_one", last), self.path("world1", last)), 1e-6)
        alone = omnitune("train", *self.args(self.path("alone"), extra=("--distributed-backend", "gloo")), check=False)
        self.assertNotEqual(alone.returncode, 0)
        self.assertIn("--distributed-backend gloo: no launcher started this process", alone.stderr)

    def test_hsdp_and_resume_on_other_world_sizes(self):
        """6 steps on 4 ranks in shard groups of 2 (HSDP; two modules replicated by ignored_modules) equal one
        process, its checkpoint holds the same weights; HSDP's checkpoint of step 3 resumes on 2 sharded ranks
        and on one process, the single process's on 3 sharded ranks (uneven rows): each continuation = the
        straight run."""
        kw = dict(gbs=RESUME_GBS, iters=RESUME_STEPS, extra=("--save-interval", str(RESUME_AT)))
        straight = self.run_on(1, name="gbs12", **kw)
        hsdp_yaml = self.yaml("sharding_size: 2\nparam_dtype: fp32\n"
                              "ignored_modules: [visual.merger, 'model.layers.{0-1}.input_layernorm']\n", "hsdp.yaml")
        hsdp = self.sharded(4, "hsdp4", yaml=hsdp_yaml, **kw)
        self.assert_same_curve(hsdp, straight, "HSDP 4 = 2 x 2, ignored_modules replicated")
        last = f"iter_{RESUME_STEPS:07d}"
        diff = weights_max_diff(self.path("hsdp4", last), self.path("gbs12", last))
        print(f"HSDP 4 = 2 x 2 vs one process, final weights: max |diff| {diff!r}")
        self.assertLessEqual(diff, 1e-6)
        for source, world in (("hsdp4", 2), ("hsdp4", 1), ("gbs12", 3)):
            sharding = ("--fsdp2-config", self.yaml()) if world > 1 else ()
            resumed = self.resume_copy(source, world, sharding, at=RESUME_AT, gbs=RESUME_GBS, iters=RESUME_STEPS)
            self.assert_same_curve(resumed, straight[RESUME_AT:], f"{source} resumed on {world}")

    def test_text_only_rank_next_to_a_video_audio_rank_with_recompute_offload_and_a_frozen_tower(self):
        data = self.mixed_media_data()
        model_json = self.model_json_with("model_recompute.json", recompute_offload_frozen)
        one = self.run_on(1, name="mixed1", data=data, gbs=2, iters=4, model_json=model_json)
        two = self.sharded(2, "mixed_sharded2", data=data, gbs=2, iters=4, model_json=model_json)
        self.assert_same_curve(two, one, "sharded: text-only rank + video/audio rank, recompute/offload/frozen")

    def test_reshard_after_forward_off_and_other_prefetch_counts(self):
        keep = self.yaml("sharding_size: auto\nparam_dtype: fp32\nreshard_after_forward: false\n"
                         "num_to_forward_prefetch: 0\nnum_to_backward_prefetch: 3\noffload_to_cpu: true\n", "keep.yaml")
        self.assert_same_curve(self.sharded(2, "no_reshard2", yaml=keep), self.run_on(1),
                               "reshard_after_forward false, other prefetch counts, offload_to_cpu")

    def test_bf16_follows_the_one_process_bf16_run(self):
        bf16 = self.yaml("sharding_size: auto\nparam_dtype: bf16\nreduce_dtype: fp32\n", "bf16.yaml")
        one = self.run_on(1, name="bf16_1", extra=("--fsdp2-config", bf16))
        two = self.sharded(2, "bf16_sharded2", yaml=bf16)
        fp32 = self.run_on(1)
        gap_one = max(rel(a["loss"], b["loss"]) for a, b in zip(one, fp32))
        gap_two = max(rel(a["loss"], b["loss"]) for a, b in zip(two, fp32))
        print(f"bf16 vs fp32, max relative loss gap: one process {gap_one:.2e}, sharded over 2 {gap_two:.2e}")
        self.assertLessEqual(max(rel(a["loss"], b["loss"]) for a, b in zip(two, one)), max(gap_one, 1e-3))

    def test_a_killed_rank_stops_the_others(self):
        """A rank SIGKILLed while the others gather or reduce its units: the job ends naming it; the sharded
        checkpoint of step 2 resumes on one process."""
        self.kill_rank_1_and_resume(self.path("killed"), extra=("--fsdp2-config", self.yaml()))

    def test_unsupported_settings_are_refused(self):
        for text, message in (("sharding_size: 3\n", "sharding_size 3 does not divide the 2 ranks"),
                              ("sharding_size: 1\noffload_to_cpu: true\n", "offload_to_cpu needs parameter sharding"),
                              ("output_dtype: bf16\n", "output_dtype is not supported yet"),
                              ("sharding_size: auto\nignored_modules: [visual.mergr]\n",
                               "ignored_modules: pattern 'visual.mergr' matches no module of the model")):
            p = launch(2, *self.args(self.path("refused"), extra=("--fsdp2-config", self.yaml(text, "bad.yaml"))),
                       check=False)
            self.assertNotEqual(p.returncode, 0, text)
            self.assertIn(message, p.stderr, text)


if __name__ == "__main__":
    unittest.main()
