"""Configurations transformers accepts: the thinker config and batch of transformers' own Qwen3-Omni model
test (its Tester: ViT `quick_gelu`, `spatial_merge_size` 1, 20 mel bins, vocab 99, special token ids 1-8,
`sliding_window` 50 with `use_sliding_window` false, `pad_token_id` 0, whose embedding row gets no
gradient) must load in `omnitune forward` and equal transformers run live: logits <= 1e-5 relative and
every gradient within the parity bound. Then every activation name transformers' ACT2FN accepts (without
learnable parameters) is run through the three towers' configurable activations the same way."""
import os
import tempfile
import unittest

import torch
from transformers import Qwen3OmniMoeConfig, Qwen3OmniMoeForConditionalGeneration
from transformers.activations import ACT2CLS

from parity_util import grad_errors, hf_grads_by_disk_name, omnitune_forward, rel

BATCH, SEQ, FEAT, VOCAB, PAD = 3, 39, 30, 99, 0


def tester_thinker_config():
    """The numbers of Qwen3OmniMoeThinkerForConditionalGenerationTester (transformers' model test)."""
    return {
        "vision_config": {"depth": 2, "embed_dim": 32, "hidden_act": "quick_gelu", "hidden_size": 32, "out_hidden_size": 32,
                          "intermediate_size": 24, "mlp_ratio": 4, "num_heads": 4, "patch_size": 16, "spatial_merge_size": 1,
                          "temporal_patch_size": 2, "initializer_range": 0.02, "deepstack_visual_indexes": [1]},
        "audio_config": {"d_model": 32, "encoder_attention_heads": 4, "encoder_ffn_dim": 32, "encoder_layers": 2,
                         "num_mel_bins": 20, "max_source_positions": 1500, "initializer_range": 0.02,
                         "downsample_hidden_size": 32, "n_window": 50, "output_dim": 32, "n_window_infer": 100},
        "text_config": {"rope_parameters": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default",
                                            "interleaved": True},
                        "vocab_size": VOCAB, "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 4,
                        "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "silu",
                        "max_position_embeddings": 1024, "rms_norm_eps": 1e-06, "use_cache": True,
                        "tie_word_embeddings": False, "rope_theta": 1000000.0, "use_sliding_window": False,
                        "sliding_window": 50, "max_window_layers": 3, "attention_dropout": 0.0, "pad_token_id": PAD,
                        "initializer_range": 0.02, "moe_intermediate_size": 32, "num_experts_per_tok": 2, "num_experts": 8,
                        "decoder_sparse_step": 1},
        "audio_token_id": 1, "image_token_id": 2, "video_token_id": 3, "position_id_per_seconds": 13,
        "seconds_per_chunk": 2, "audio_start_token_id": 4, "audio_end_token_id": 5, "user_token_id": 6,
        "vision_start_token_id": 7, "vision_end_token_id": 8, "initializer_range": 0.02,
    }


def tester_batch(gen):
    """prepare_config_and_inputs_for_common, with a generator: random ids in [3, 99) with the special ids
    replaced by the pad id (0), the first token masked out, an audio block of 4 tokens after it and one image token
    near the end; plus labels (the ids, -100 where masked) so that there is a loss to differentiate."""
    input_ids = torch.randint(0, VOCAB - 3, (BATCH, SEQ), generator=gen) + 3
    # The Tester's list of ids to replace leaves out video_token_id 3, so its batch holds stray <|video_pad|>
    # tokens with no video, which transformers embeds as text; OmniTune refuses a placeholder without its
    # media (a sign of a broken batch), so 3 is replaced too.
    input_ids[torch.isin(input_ids, torch.tensor([1, 2, 3, 4, 5, 7, 8]))] = PAD
    attention_mask = torch.ones(BATCH, SEQ, dtype=torch.long)
    attention_mask[:, :1] = 0
    audio_len = (((FEAT - 1) // 2 + 1 - 1) // 2 + 1 - 1) // 2 + 1
    input_ids[:, 1] = 4
    input_ids[:, 2:2 + audio_len] = 1
    input_ids[:, 2 + audio_len] = 5
    input_ids[:, -4:-1] = torch.tensor([7, 2, 8])
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    self_check = (input_ids == PAD).sum().item()
    assert self_check > 0, "the batch should hold pad tokens (their embedding row is what padding_idx protects)"
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels,
            "pixel_values": torch.rand(BATCH * 1, 3 * 16 * 16 * 2, generator=gen),
            "image_grid_thw": torch.tensor([[1, 1, 1]] * BATCH),
            "input_features": torch.rand(BATCH, 20, FEAT, generator=gen),
            "feature_attention_mask": torch.ones(BATCH, FEAT, dtype=torch.long), "use_audio_in_video": False}


class TransformersTesterConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check(self, thinker_config, label, seed=0, attn="sdpa"):
        work = tempfile.mkdtemp(dir=self.tmp.name)
        torch.manual_seed(seed)
        model = Qwen3OmniMoeForConditionalGeneration(Qwen3OmniMoeConfig(thinker_config=thinker_config, enable_audio_output=False)).eval()
        gen = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():  # norms, biases and the pad row non-trivial
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * 0.05)
        model_dir = os.path.join(work, "model")
        model.save_pretrained(model_dir)
        batch = tester_batch(gen)
        ours = omnitune_forward(model_dir, batch, work, "--attn", attn)

        thinker = Qwen3OmniMoeForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32,
                                                                       attn_implementation=attn).thinker
        ref = thinker(**{k: v for k, v in batch.items() if k != "use_audio_in_video"})
        # Every logit, the left-padded first token's too (it sees no key: sdpa gives it 0, eager the mean of
        # all values), since its logits predict the next, real label.
        self.assertLessEqual(rel(ours["logits"], ref.logits.detach()), 1e-5, label)
        self.assertLessEqual(abs(ours["loss"].item() - ref.loss.item()), 1e-5, label)
        ref.loss.backward()
        ref_grads = hf_grads_by_disk_name(thinker)
        ours_grads = {k[len("grad."):]: v for k, v in ours.items() if k.startswith("grad.")}
        self.assertEqual(sorted(ours_grads), sorted(ref_grads), label)
        for k, (err, bound) in grad_errors(ours_grads, ref_grads).items():
            self.assertLessEqual(err, bound, f"{label}: grad {k}")
        return ours_grads

    def test_the_tester_config(self):
        for attn in ("sdpa", "eager"):
            grads = self.check(tester_thinker_config(), f"Tester, {attn}", attn=attn)
            pad_row = grads["thinker.model.embed_tokens.weight"][PAD]
            self.assertEqual(pad_row.abs().max().item(), 0.0, "padding_idx: the pad token's row gets no gradient")

    def test_every_parameter_free_activation_name(self):
        names = [n for n in ACT2CLS if n not in ("prelu", "xielu")]  # those two carry learnable parameters
        for i in range(0, len(names), 3):
            vision, audio, text = (names[(i + k) % len(names)] for k in range(3))
            cfg = tester_thinker_config()
            cfg["vision_config"]["hidden_act"] = vision
            cfg["audio_config"]["activation_function"] = audio
            cfg["text_config"]["hidden_act"] = text
            with self.subTest(vision=vision, audio=audio, text=text):
                self.check(cfg, f"vision {vision}, audio {audio}, text {text}", seed=i)


if __name__ == "__main__":
    unittest.main()
