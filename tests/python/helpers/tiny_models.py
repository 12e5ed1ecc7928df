"""Random tiny Qwen3-Omni models built by transformers itself (the reference) for tests."""
import json

import torch
from transformers import Qwen3OmniMoeConfig, Qwen3OmniMoeForConditionalGeneration
from common import TINY_CONFIG



def tiny_config(with_talker=False):
    """The shipped tiny config; with_talker adds a talker and code2wav shrunk to toy size."""
    with open(TINY_CONFIG) as f:
        d = json.load(f)
    if with_talker:
        d["enable_audio_output"] = True
        talker = d["talker_config"]
        talker.update(thinker_hidden_size=d["thinker_config"]["text_config"]["hidden_size"], accept_hidden_layer=2,
                      num_code_groups=4, spatial_merge_size=2)
        talker["text_config"].update(hidden_size=32, intermediate_size=64, moe_intermediate_size=16, num_hidden_layers=2,
                                     num_attention_heads=2, num_key_value_heads=1, num_experts=4, num_experts_per_tok=2,
                                     vocab_size=256, head_dim=16, shared_expert_intermediate_size=32)
        talker["code_predictor_config"].update(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                               num_attention_heads=2, num_key_value_heads=1, head_dim=16, vocab_size=64,
                                               num_code_groups=4, layer_types=["full_attention"])
        d["code2wav_config"].update(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                    num_key_value_heads=2, decoder_dim=32, codebook_size=64, num_quantizers=4)
    return Qwen3OmniMoeConfig(**d)


def tiny_model(with_talker=False, seed=0):
    torch.manual_seed(seed)
    return Qwen3OmniMoeForConditionalGeneration(tiny_config(with_talker)).eval()


def tower_of(name):
    """Same grouping as `omnitune inspect`: audio, vision, text, lm_head, talker, code2wav."""
    if name.startswith("talker."):
        return "talker"
    if name.startswith("code2wav."):
        return "code2wav"
    name = name.removeprefix("thinker.")
    for prefix, tower in (("audio_tower.", "audio"), ("visual.", "vision"), ("model.", "text"), ("lm_head.", "lm_head")):
        if name.startswith(prefix):
            return tower
    return "other"
