// data/sample_builder: a dataset row's Conversation + media files -> a Sample: the template renders
// the turns, each placeholder becomes its modality's tokens (<|vision_start|><|image_pad|>x N ...),
// media are decoded and processed, the seed's cutoff_len budget truncates turns (never through a
// media block), labels cover the responses.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/data/data_config.h"
#include "omnitune/data/row_reader.h"
#include "omnitune/data/sample.h"
#include "omnitune/data/token_budget.h"
#include "omnitune/text/tokenizer.h"

namespace omnitune {

class SampleBuilder {
 public:
  // Token ids come from the tokenizer; position_id_per_seconds (audio-in-video interleave) as given (the
  // trained model's), else from `<model_name_or_path>/config.json` when present, else 13 as in Qwen3-Omni.
  SampleBuilder(const DataConfig& config, std::shared_ptr<const Tokenizer> tokenizer,
                std::optional<double> position_id_per_seconds = std::nullopt);
  // Media decoding (decode_media), placeholder expansion (expand_placeholders), then the token budget
  // (data/token_budget.h).
  Sample build(const RowSample& row, const std::string& where) const;
  // Generation: a conversation that ends with a prompt (user or tool response), rendered up to where the
  // answer starts (the template's prompt side of an empty answer), media processed as build() does. No
  // token budget (nothing is cut); labels are all kIgnoreIndex.
  Sample build_prompt(const RowSample& row, const std::string& where) const;
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const DataConfig& config() const { return config_; }
  // The tokens a placeholder expands to: <|vision_start|> <|image_pad|> x t*h*w/4 <|vision_end|> for an
  // image of grid (t, h, w); <|audio_start|> <|audio_pad|> x N(frames) <|audio_end|> for an audio clip.
  std::vector<int64_t> image_block(const std::array<int64_t, 3>& grid) const;
  std::vector<int64_t> audio_block(int64_t mel_frames) const;

 private:
  struct Ids {
    int64_t image_pad, video_pad, audio_pad, vision_start, vision_end, audio_start, audio_end;
  };
  // The token blocks of a sample's media, consumed in placeholder order while tokenizing.
  struct MediaTokens {
    std::vector<std::vector<int64_t>> image, video, audio;
    size_t next_image = 0, next_video = 0, next_audio = 0;
    bool audio_in_videos = false;  // each video carries its audio (use_audio_in_video): <audio> adds nothing
  };
  MediaTokens decode_media(const RowSample& row, const std::string& where, Sample& sample) const;
  std::vector<TurnTokens> expand_placeholders(const RowSample& row, MediaTokens& media, const std::string& where,
                                              std::string& text) const;
  bool is_media(int64_t id) const;
  DataConfig config_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  Ids ids_;
  double position_id_per_seconds_ = 13;
};

}  // namespace omnitune
