"""Helpers shared by the tests that compare `omnitune forward` with transformers' thinker: the relative
error, transformers' gradients under the on-disk tensor names, and the gradient check with its bound."""
import os
import subprocess

import torch
from safetensors.torch import load_file, save_file
from common import OMNITUNE



def rel(a, b):
    """||a - b|| / ||b|| for tensors."""
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def hf_grads_by_disk_name(thinker):
    """transformers' in-memory gradients under the on-disk names (experts split per expert)."""
    out = {}
    for name, p in thinker.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        if name.endswith("mlp.experts.gate_up_proj"):
            base, inter = "thinker." + name[: -len("gate_up_proj")], g.shape[1] // 2
            for e in range(g.shape[0]):
                out[f"{base}{e}.gate_proj.weight"] = g[e, :inter]
                out[f"{base}{e}.up_proj.weight"] = g[e, inter:]
        elif name.endswith("mlp.experts.down_proj"):
            base = "thinker." + name[: -len("down_proj")]
            for e in range(g.shape[0]):
                out[f"{base}{e}.down_proj.weight"] = g[e]
        else:
            out["thinker." + name] = g
    return out


def omnitune_forward(model_dir, batch, work, *extra, grads=True):
    """`omnitune forward` on `batch` (HF forward arguments + "use_audio_in_video"); its output tensors."""
    tensors = {k: v for k, v in batch.items() if k != "use_audio_in_video"}
    batch_file, out_file = os.path.join(work, "batch.safetensors"), os.path.join(work, "out.safetensors")
    save_file(tensors, batch_file, metadata={"use_audio_in_video": "true" if batch.get("use_audio_in_video") else "false"})
    r = subprocess.run([OMNITUNE, "forward", "--model", model_dir, "--batch", batch_file, "--out", out_file,
                        *(["--grads"] if grads else []), *extra], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"omnitune forward failed ({r.returncode}):\n{r.stderr}")
    return load_file(out_file)


def grad_errors(ours, ref_grads):
    """Per tensor (error, bound): bound = 1e-4 * (||g|| + 1e-3 * ||all gradients||), g the reference's."""
    whole = torch.cat([g.flatten() for g in ref_grads.values()]).norm().item()
    return {k: ((ours[k] - g).norm().item(), 1e-4 * (g.norm().item() + 1e-3 * whole)) for k, g in ref_grads.items()}
