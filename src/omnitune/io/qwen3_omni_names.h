// io/qwen3_omni_names: the prefixes of a Qwen3-Omni Hugging Face checkpoint and the tower each name belongs
// to — the part of the name table that needs no model (model/hf_layout.h has the per-parameter part). Loading,
// export, conversion and `inspect` all go through these.
#pragma once

#include <string>
#include <vector>

namespace omnitune {

inline constexpr const char* kThinkerPrefix = "thinker.";  // the thinker's tensors in a full checkpoint

// talker.* and code2wav.*: the speech side, kept byte for byte through conversions and never trained.
bool is_talker_tensor(const std::string& hf_name);

// "audio" (thinker.audio_tower.*), "vision" (thinker.visual.*), "text" (thinker.model.*), "lm_head", "talker",
// "code2wav"; the `thinker.` prefix is optional. "other" for anything else.
std::string qwen3_omni_tower(const std::string& hf_name);
const std::vector<std::string>& qwen3_omni_towers();  // in display order, "other" last

}  // namespace omnitune
