"""Multimodal thinker batches built from the real special-token ids, for parity tests.

Each builder returns a dict of HF forward arguments (torch tensors) plus "use_audio_in_video".
Token layouts follow the Qwen3-Omni processor: <|vision_start|> pads <|vision_end|> for images and
videos, <|audio_start|> pads <|audio_end|> for audio, and for use_audio_in_video the per-token
interleave of video and audio pads inside <|vision_start|><|audio_start|> ... <|audio_end|><|vision_end|>.
"""
import torch

AUDIO_CHUNK = 100


def conv_len(frames):
    for _ in range(3):
        frames = (frames - 1) // 2 + 1 if frames > 0 else 0
    return frames


def audio_tokens(frames):
    return conv_len(AUDIO_CHUNK) * (frames // AUDIO_CHUNK) + conv_len(frames % AUDIO_CHUNK)


class Builder:
    """Accumulates one batch row by row: text, images, videos, audios."""

    def __init__(self, cfg, gen, merge=2, patch_dim=1536, mel=128):
        self.t = cfg.thinker_config
        self.gen, self.merge, self.patch_dim, self.mel = gen, merge, patch_dim, mel
        self.rows, self.pixel, self.grids, self.vpixel, self.vgrids, self.spg, self.audios = [], [], [], [], [], [], []

    def text(self, n):
        return torch.randint(0, 151000, (n,), generator=self.gen).tolist()

    def image(self, t, h, w):
        self.grids.append([t, h, w])
        self.pixel.append(torch.randn(t * h * w, self.patch_dim, generator=self.gen))
        n = t * h * w // self.merge**2
        return [self.t.vision_start_token_id] + [self.t.image_token_id] * n + [self.t.vision_end_token_id]

    def _video_patches(self, t, h, w, spg):
        self.vgrids.append([t, h, w])
        self.spg.append(spg)
        self.vpixel.append(torch.randn(t * h * w, self.patch_dim, generator=self.gen))
        return t * h * w // self.merge**2

    def video(self, t, h, w, spg=1.0):
        n = self._video_patches(t, h, w, spg)
        return [self.t.vision_start_token_id] + [self.t.video_token_id] * n + [self.t.vision_end_token_id]

    def audio(self, frames):
        self.audios.append(torch.randn(self.mel, frames, generator=self.gen))
        return [self.t.audio_start_token_id] + [self.t.audio_token_id] * audio_tokens(frames) + [self.t.audio_end_token_id]

    def video_with_audio(self, t, h, w, frames, spg=1.0):
        """use_audio_in_video: video pads and audio pads interleaved by their temporal position."""
        self._video_patches(t, h, w, spg)
        self.audios.append(torch.randn(self.mel, frames, generator=self.gen))
        per_frame = (h // self.merge) * (w // self.merge)
        video_t = [ti * spg * self.t.position_id_per_seconds for ti in range(t) for _ in range(per_frame)]
        n_audio = audio_tokens(frames)
        out, vi, ai = [], 0, 0
        while vi < len(video_t) and ai < n_audio:
            if video_t[vi] <= ai:
                out.append(self.t.video_token_id)
                vi += 1
            else:
                out.append(self.t.audio_token_id)
                ai += 1
        out += [self.t.video_token_id] * (len(video_t) - vi) + [self.t.audio_token_id] * (n_audio - ai)
        return ([self.t.vision_start_token_id, self.t.audio_start_token_id] + out +
                [self.t.audio_end_token_id, self.t.vision_end_token_id])

    def row(self, *parts, prompt=3):
        ids = [i for p in parts for i in p]
        self.rows.append((ids, prompt))

    def build(self, use_audio_in_video=False):
        length = max(len(ids) for ids, _ in self.rows)
        b = len(self.rows)
        input_ids = torch.zeros(b, length, dtype=torch.long)
        mask = torch.zeros(b, length, dtype=torch.long)
        labels = torch.full((b, length), -100, dtype=torch.long)
        for r, (ids, prompt) in enumerate(self.rows):
            input_ids[r, :len(ids)] = torch.tensor(ids)
            mask[r, :len(ids)] = 1
            labels[r, prompt:len(ids)] = torch.tensor(ids[prompt:])
        specials = [self.t.image_token_id, self.t.video_token_id, self.t.audio_token_id]
        labels[torch.isin(labels, torch.tensor(specials))] = -100
        out = {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
        if self.pixel:
            out["pixel_values"] = torch.cat(self.pixel)
            out["image_grid_thw"] = torch.tensor(self.grids, dtype=torch.long)
        if self.vpixel:
            out["pixel_values_videos"] = torch.cat(self.vpixel)
            out["video_grid_thw"] = torch.tensor(self.vgrids, dtype=torch.long)
            out["video_second_per_grid"] = torch.tensor(self.spg, dtype=torch.float32)
        if self.audios:
            longest = max(a.shape[1] for a in self.audios)
            feats = torch.zeros(len(self.audios), self.mel, longest)
            fmask = torch.zeros(len(self.audios), longest, dtype=torch.long)
            for i, a in enumerate(self.audios):
                feats[i, :, :a.shape[1]] = a
                fmask[i, :a.shape[1]] = 1
            out["input_features"], out["feature_attention_mask"] = feats, fmask
        out["use_audio_in_video"] = use_audio_in_video
        return out
