"""Training on several ranks (CPU, Gloo, loopback): a job of 2 or 3 ranks equals the single process on the
same global batch (losses 1e-6 relative at every step); `omnitune launch`, `torchrun --no-python`, two
`--nnodes 2` launches, Slurm's and Open MPI's environments give the same run; a text-only rank next to a
video+audio rank (recompute, offload, a frozen tower) neither hangs nor changes the result; a checkpoint saved
by 2 ranks resumes on 1 and on 3 exactly where a straight run goes; a rank killed mid-run stops the others
with a message naming it, and the last checkpoint resumes; ranks started with different files stop at once
saying what differs."""
import json
import os
import signal
import subprocess
import time
import unittest

import torch
from safetensors.torch import load_file

from train_fixture import read_metrics
from common import OMNITUNE, omnitune
from distributed_fixture import (DistributedCase, HALF, STEPS, TORCHRUN, children_of, free_port, launch, model_tensors,
                                 recompute_offload_frozen, rel, weights_max_diff)


class Distributed(DistributedCase):
    def test_world_2_and_3_equal_one_process(self):
        one = self.run_on(1)
        for world in (2, 3):
            self.assert_same_curve(self.run_on(world), one, f"world {world}")
            last = f"iter_{STEPS:07d}"
            self.assertLessEqual(weights_max_diff(self.path(f"world{world}", last), self.path("world1", last)), 1e-6)

    def test_checkpoint_of_3_ranks_opens_in_torch_dcp_and_converts(self):
        """Each rank wrote its share (model shards + index, one optimizer part each); torch's distributed
        checkpoint reads the model as ours does; `convert dcp-to-hf` exports it like the 1-process one."""
        self.run_on(1), self.run_on(3)
        last = f"iter_{STEPS:07d}"
        ckpt = self.path("world3", last)
        files = sorted(os.listdir(ckpt))
        self.assertEqual([f for f in files if f.startswith("optimizer-")],
                         [f"optimizer-0000{k}-of-00003.safetensors" for k in (1, 2, 3)])
        shards = [f for f in files if f.startswith("model-")]
        self.assertGreaterEqual(len(shards), 3)
        ours = model_tensors(ckpt)
        from torch.distributed.checkpoint import HuggingFaceStorageReader, load
        state = {k: torch.empty_like(v) for k, v in ours.items()}
        load(state, storage_reader=HuggingFaceStorageReader(ckpt))
        for k, v in ours.items():
            self.assertTrue(torch.equal(state[k], v), k)
        for world in (1, 3):
            omnitune("convert", "dcp-to-hf", "--hf-dir", self.model, "--dcp-dir", self.path(f"world{world}"),
                     "--save-dir", self.path(f"export{world}"))
        self.assertLessEqual(weights_max_diff(self.path("export3"), self.path("export1")), 1e-6)

    def test_distributed_optimizer_takes_the_replicated_step(self):
        """--use-distributed-optimizer (AdamW state sharded over the ranks): bit for bit the replicated run;
        its checkpoint (one optimizer part a rank, each its own parameters) resumes on 2 replicated ranks."""
        replicated = self.run_on(3)
        sharded = self.run_on(3, name="zero3", extra=("--use-distributed-optimizer", "--save-interval", str(HALF)))
        self.assertEqual([(m["loss"], m["grad_norm"]) for m in sharded],
                         [(m["loss"], m["grad_norm"]) for m in replicated])
        last = f"iter_{STEPS:07d}"
        self.assertEqual(model_tensors(self.path("zero3", last)).keys(), model_tensors(self.path("world3", last)).keys())
        for k, v in model_tensors(self.path("zero3", last)).items():
            self.assertTrue(torch.equal(v, model_tensors(self.path("world3", last))[k]), k)
        parts = [load_file(self.path("zero3", last, f"optimizer-0000{k}-of-00003.safetensors")) for k in (1, 2, 3)]
        self.assertTrue(all(parts), "every rank owns a share")
        self.assertFalse(set(parts[0]) & set(parts[1]), "each parameter's state lives on one rank")
        self.assert_same_curve(self.resume_copy("zero3", 2, at=HALF), self.run_on(1)[HALF:],
                               "distributed optimizer resumed on 2")

    def test_launch_torchrun_two_nodes_slurm_and_mpirun_run_the_same_job(self):
        """Two ranks started five ways (2 steps, a micro-batch a rank): the same losses, norms and tokens."""
        short = dict(iters=2, gbs=2)
        launch(2, *self.args(self.path("launch"), **short))
        ours = read_metrics(self.path("launch"))
        port = free_port()
        subprocess.run([TORCHRUN, "--nproc-per-node", "2", "--master-port", str(port), "--no-python", OMNITUNE,
                        "train", *self.args(self.path("torchrun"), **short)], check=True, capture_output=True,
                       timeout=600)
        port = free_port()
        procs = [subprocess.Popen([OMNITUNE, "launch", "--nnodes", "2", "--node_rank", str(n), "--nproc_per_node", "1",
                                   "--master_addr", "127.0.0.1", "--master_port", str(port), "--", "train",
                                   *self.args(self.path("two_nodes"), **short)], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True,
                                  env=dict(os.environ, OMP_NUM_THREADS="1"))  # as 2 ranks on one node get
                 for n in (0, 1)]
        outputs = [p.communicate(timeout=600)[0] for p in procs]
        self.assertEqual([p.returncode for p in procs], [0, 0], outputs)
        port = free_port()
        slurm = [{"SLURM_STEP_ID": "0", "SLURM_PROCID": str(r), "SLURM_NTASKS": "2", "SLURM_LOCALID": str(r),
                  "SLURM_STEP_TASKS_PER_NODE": "2", "SLURM_STEP_NODELIST": "localhost", "MASTER_PORT": str(port),
                  "OMP_NUM_THREADS": "1"} for r in (0, 1)]
        port = free_port()
        mpi = [{"OMPI_COMM_WORLD_RANK": str(r), "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_RANK": str(r),
                "OMPI_COMM_WORLD_LOCAL_SIZE": "2", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"} for r in (0, 1)]
        for name, envs in (("slurm", slurm), ("mpirun", mpi)):
            results = self.start_ranks(envs, lambda rank: self.args(self.path(name), **short))
            self.assertEqual([rc for rc, _ in results], [0, 0], results[0][1][-2000:] + results[1][1][-2000:])
            self.assertIn(f"({name}, rendezvous at", results[0][1])
        for name in ("torchrun", "two_nodes", "slurm", "mpirun"):
            self.assertEqual([(m["loss"], m["grad_norm"], m["tokens"]) for m in read_metrics(self.path(name))],
                             [(m["loss"], m["grad_norm"], m["tokens"]) for m in ours], name)

    def test_resume_on_other_world_sizes(self):
        """A checkpoint of 2 replicated ranks resumes on 1 and on 3 (a single process's on sharded ranks: the
        sharded test)."""
        straight = self.run_on(1)
        launch(2, *self.args(self.path("saved2"), iters=HALF))
        for world in (1, 3):
            self.assert_same_curve(self.resume_copy("saved2", world), straight[HALF:], f"saved2 resumed on {world}")

    def test_text_only_rank_next_to_a_video_audio_rank_with_recompute_offload_and_a_frozen_tower(self):
        """Rows alternate text / video with its sound track: rank 0 reads only text, rank 1 only video+audio;
        recompute (text, vision), activation offload (audio) and a frozen vision projector on both."""
        data = self.mixed_media_data()
        model_json = self.model_json_with("model_recompute.json", recompute_offload_frozen)
        one = self.run_on(1, name="mixed1", data=data, gbs=2, iters=4, model_json=model_json)
        two = self.run_on(2, name="mixed2", data=data, gbs=2, iters=4, model_json=model_json)
        self.assert_same_curve(two, one, "text-only rank + video/audio rank")
        trained = model_tensors(self.path("mixed2", "iter_0000004"))
        start = load_file(os.path.join(self.model, "model.safetensors"))
        frozen = [k for k in trained if k.startswith("visual.merger.")]
        self.assertTrue(frozen)
        for k in frozen:
            self.assertTrue(torch.equal(trained[k], start["thinker." + k]), f"{k} is frozen")
        self.assertFalse(torch.equal(trained["visual.blocks.0.attn.qkv.weight"],
                                     start["thinker.visual.blocks.0.attn.qkv.weight"]), "the vision tower trains")

    def test_a_stopped_rank_stops_the_others_and_the_checkpoint_resumes(self):
        """SIGSTOP: no socket closes, so only the heartbeat watch notices (10 s at a 1-minute timeout); SIGKILL is
        the sharded suite's test."""
        self.kill_rank_1_and_resume(self.path("stopped"), stop=True)

    def test_sigterm_to_launch_stops_every_rank(self):
        save = self.path("sigterm")
        p = subprocess.Popen([OMNITUNE, "launch", "--nproc-per-node", "2", "--master-port", str(free_port()), "--",
                              "train", *self.args(save, iters=10000, gbs=2)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.time() + 300
            while not os.path.exists(os.path.join(save, "metrics.jsonl")) and time.time() < deadline:
                self.assertIsNone(p.poll(), "the job ended early")
                time.sleep(0.2)
            children = children_of(p.pid)
            self.assertEqual(len(children), 2)
            p.send_signal(signal.SIGTERM)
            out = p.communicate(timeout=60)[0]
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, out[-2000:])
        for pid in children:
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"rank process {pid} outlived the launcher")

    def test_a_rank_that_stops_answering_is_named(self):
        """SIGSTOP, not a death: the other rank notices when the collective times out (15 s here)."""
        save, port = self.path("stopped"), free_port()
        procs = []
        for rank in (0, 1):
            env = dict(os.environ, RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE="2",
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
            args = self.args(save, iters=10000, gbs=2, timeout_minutes=0.25)
            procs.append(subprocess.Popen([OMNITUNE, "train", *args], env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
        try:
            deadline = time.time() + 300
            while not os.path.exists(os.path.join(save, "metrics.jsonl")) and time.time() < deadline:
                self.assertEqual([p.poll() for p in procs], [None, None], "a rank ended early")
                time.sleep(0.2)
            os.kill(procs[1].pid, signal.SIGSTOP)
            stopped_at = time.time()
            out = procs[0].communicate(timeout=90)[0]
            waited = time.time() - stopped_at
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.communicate()
        self.assertEqual(procs[0].returncode, 1, out[-3000:])
        self.assertLess(waited, 60, out[-3000:])
        self.assertIn("lost contact with rank 1", out)

    def test_bf16_follows_fp32_as_one_process_does(self):
        yaml = self.path("bf16.yaml")
        with open(yaml, "w") as f:
            f.write("sharding_size: 1\nparam_dtype: bf16\nreduce_dtype: fp32\n")
        fp32 = self.run_on(1)
        one = self.run_on(1, name="bf16_1", extra=("--fsdp2-config", yaml))
        two = self.run_on(2, name="bf16_2", extra=("--fsdp2-config", yaml))
        gap_one = max(rel(a["loss"], b["loss"]) for a, b in zip(one, fp32))
        gap_two = max(rel(a["loss"], b["loss"]) for a, b in zip(two, fp32))
        print(f"bf16 vs fp32, max relative loss gap: one process {gap_one:.2e}, 2 ranks {gap_two:.2e}")
        self.assertLess(gap_two, max(2 * gap_one, 1e-3))
        self.assertLessEqual(max(rel(a["loss"], b["loss"]) for a, b in zip(two, one)), max(gap_one, 1e-3))

    def start_ranks(self, envs, args_of):
        """Processes started as another launcher would, one environment each; their (returncode, output)."""
        procs = [subprocess.Popen([OMNITUNE, "train", *args_of(rank)], env=dict(os.environ, **env),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for rank, env in enumerate(envs)]
        try:
            outputs = [p.communicate(timeout=300)[0] for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        return [(p.returncode, out) for p, out in zip(procs, outputs)]

    def test_a_rank_that_cannot_start_stops_every_rank(self):
        port = free_port()
        envs = [{"RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": str(r), "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": str(port)} for r in (0, 1)]
        missing = self.path("no_such_data.json")
        results = self.start_ranks(envs, lambda rank: self.args(self.path("cannot_start"),
                                                                data=self.data if rank == 0 else missing))
        self.assertEqual([rc for rc, _ in results], [1, 1], results)
        self.assertIn("rank 1 could not start: ", results[0][1])
        self.assertIn(missing, results[0][1])
        self.assertIn(missing, results[1][1])

    def test_ranks_started_with_different_files_stop(self):
        other = self.path("other_data.json")
        with open(self.data) as f:
            cfg = json.load(f)
        cfg["dataset_param"]["basic_parameters"]["cutoff_len"] = 400
        with open(other, "w") as f:
            json.dump(cfg, f)
        port, procs = free_port(), []
        for rank, data in ((0, self.data), (1, other)):
            env = dict(os.environ, RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE="2",
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
            procs.append(subprocess.Popen([OMNITUNE, "train", *self.args(self.path("differ"), data=data)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        for p, out in zip(procs, outputs):
            self.assertEqual(p.returncode, 1, out)
            self.assertIn("rank 1's data.json differ", out)
        self.assertFalse(os.path.exists(self.path("differ", "iter_0000001")))

    def test_nccl_on_cpu_ranks_is_refused(self):
        """NCCL moves GPU memory: on CPU ranks it is refused before any rendezvous (on a GPU: the GPU check)."""
        p = launch(2, *self.args(self.path("nccl"), extra=("--distributed-backend", "nccl")), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--distributed-backend nccl: rank 0 computes on cpu, not on a CUDA device", p.stderr)
        self.assertIn("use --distributed-backend gloo", p.stderr)


if __name__ == "__main__":
    unittest.main()
