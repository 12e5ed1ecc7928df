// model/rope_index: the thinker's 3-D (TMRoPE) position ids for text, image, video and audio tokens,
// equal to the reference get_rope_index (values, dtype, padding) and strict about malformed inputs.
#pragma once

#include <ATen/Tensor.h>

#include "omnitune/model/config.h"

namespace omnitune {

struct RopeIndexInputs {
  at::Tensor input_ids;              // [B, L] int64
  at::Tensor attention_mask;         // [B, L] (1 = real token) or undefined (all real)
  at::Tensor image_grid_thw;         // [n_images, 3] int64 or undefined
  at::Tensor video_grid_thw;         // [n_videos, 3] int64 or undefined
  at::Tensor video_second_per_grid;  // [n_videos] float or undefined
  at::Tensor audio_seqlens;          // [n_audios] int64 mel frames per audio, or undefined
  bool use_audio_in_video = false;
};

// Position ids [3, B, L] with the dtype and values the reference returns (padded positions as the reference sets them).
//
// With neither image_grid_thw nor video_grid_thw (text or audio only) the ids are cumsum(mask) - 1 on all
// three axes and padded slots hold 1. Otherwise each row's real tokens are walked segment by segment
// (text, <|vision_start|> image/video <|vision_end|>, <|audio_start|> audio <|audio_end|>, and with
// use_audio_in_video the merged video+audio span); grids, seconds per grid and audio lengths are consumed
// in order across the whole batch, and padded slots hold 0. The result is float32 on input_ids' device.
// Throws Error naming the batch row when placeholders and grids/audio lengths disagree.
at::Tensor get_rope_index(const ThinkerConfig& config, const RopeIndexInputs& in);

}  // namespace omnitune
