#include "omnitune/data/sample_builder.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>

#include "omnitune/media/audio.h"
#include "omnitune/media/image.h"
#include "omnitune/media/video.h"
#include "omnitune/model/audio_lengths.h"
#include "omnitune/model/config.h"
#include "omnitune/model/thinker_inputs.h"

namespace omnitune {

int64_t Sample::trained_tokens() const {
  return std::count_if(labels.begin(), labels.end(), [](int64_t l) { return l != kIgnoreIndex; });
}

namespace {

int64_t required_id(const Tokenizer& t, const char* token) {
  auto id = t.token_to_id(token);
  if (!id) throw Error(std::string("tokenizer has no token ") + token + " (is it a Qwen3-Omni tokenizer?)");
  return *id;
}

}  // namespace

SampleBuilder::SampleBuilder(const DataConfig& config, std::shared_ptr<const Tokenizer> tokenizer,
                             std::optional<double> position_id_per_seconds)
    : config_(config), tokenizer_(std::move(tokenizer)) {
  const Tokenizer& t = *tokenizer_;
  ids_ = {required_id(t, "<|image_pad|>"),    required_id(t, "<|video_pad|>"),  required_id(t, "<|audio_pad|>"),
          required_id(t, "<|vision_start|>"), required_id(t, "<|vision_end|>"), required_id(t, "<|audio_start|>"),
          required_id(t, "<|audio_end|>")};
  std::filesystem::path model_config = std::filesystem::path(config.preprocess.model_name_or_path) / "config.json";
  if (position_id_per_seconds)
    position_id_per_seconds_ = *position_id_per_seconds;
  else if (std::filesystem::exists(model_config))
    position_id_per_seconds_ = load_thinker_config(model_config.string()).position_id_per_seconds;
}

std::vector<int64_t> SampleBuilder::image_block(const std::array<int64_t, 3>& grid) const {
  std::vector<int64_t> block = {ids_.vision_start};
  block.insert(block.end(), grid[0] * grid[1] * grid[2] / 4, ids_.image_pad);
  block.push_back(ids_.vision_end);
  return block;
}

std::vector<int64_t> SampleBuilder::audio_block(int64_t mel_frames) const {
  std::vector<int64_t> block = {ids_.audio_start};
  block.insert(block.end(), audio_output_length(mel_frames), ids_.audio_pad);
  block.push_back(ids_.audio_end);
  return block;
}

Sample SampleBuilder::build(const RowSample& row, const std::string& where) const {
  Sample s;
  s.use_audio_in_video = config_.preprocess.use_audio_in_video;
  MediaTokens media = decode_media(row, where, s);
  std::vector<TurnTokens> turns = expand_placeholders(row, media, where, s.text);
  const BudgetedTokens tokens = apply_token_budget(
      std::move(turns), config_.basic, [this](int64_t id) { return is_media(id); }, where);
  s.input_ids = tokens.input_ids;
  s.labels = tokens.labels;
  s.cut_tokens = tokens.cut_tokens;
  return s;
}

Sample SampleBuilder::build_prompt(const RowSample& row, const std::string& where) const {
  RowSample asked = row;
  asked.conversation.messages.push_back({Role::kAssistant, ""});  // the answer to come
  Sample s;
  s.use_audio_in_video = config_.preprocess.use_audio_in_video;
  MediaTokens media = decode_media(asked, where, s);
  std::vector<TurnTokens> turns = expand_placeholders(asked, media, where, s.text);
  for (size_t i = 0; i < turns.size(); ++i) {
    s.input_ids.insert(s.input_ids.end(), turns[i].prompt.begin(), turns[i].prompt.end());
    if (i + 1 < turns.size()) s.input_ids.insert(s.input_ids.end(), turns[i].response.begin(), turns[i].response.end());
  }
  s.labels.assign(s.input_ids.size(), kIgnoreIndex);
  return s;
}

bool SampleBuilder::is_media(int64_t id) const {
  return id == ids_.image_pad || id == ids_.video_pad || id == ids_.audio_pad || id == ids_.vision_start ||
         id == ids_.vision_end || id == ids_.audio_start || id == ids_.audio_end;
}

// Every image, video and audio of the row decoded and processed into `s`; the token block of each, in order.
SampleBuilder::MediaTokens SampleBuilder::decode_media(const RowSample& row, const std::string& where,
                                                       Sample& s) const {
  const PreprocessParameters& p = config_.preprocess;
  MediaTokens media;
  auto fail_media = [&](const std::string& path, const Error& e) -> Error {
    return Error(where + ": " + (std::string(e.what()).find(path) == std::string::npos ? path + ": " : "") + e.what());
  };

  for (const auto& path : row.images) {
    try {
      VisionInput v = process_image(decode_image(path), ImageOptions{p.image_min_pixels, p.image_max_pixels});
      auto g = v.grid_thw.data_ptr<int64_t>();
      s.image_pixels.push_back(v.pixel_values);
      s.image_grids.push_back({g[0], g[1], g[2]});
      media.image.push_back(image_block(s.image_grids.back()));
    } catch (const Error& e) {
      throw fail_media(path, e);
    }
  }
  auto audio_block_tokens = [&](const AudioFeatures& f, const std::string& path) {
    if (config_.basic.audio_max_seconds && f.seconds > *config_.basic.audio_max_seconds)
      throw OverlongError(cat(where, ": ", path, " is ", f.seconds, " s long, above audio_max_seconds ",
                              *config_.basic.audio_max_seconds));
    s.audio_features.push_back(f.features);
    return audio_output_length(f.frames);
  };
  size_t paired_audio = 0;  // with use_audio_in_video, rows may give each video's audio as a file
  for (size_t k = 0; k < row.videos.size(); ++k) {
    const std::string& path = row.videos[k];
    try {
      VideoInput v =
          load_video(path, VideoOptions{p.video_fps, p.video_maxlen, p.video_min_pixels, p.video_max_pixels});
      auto g = v.grid_thw.data_ptr<int64_t>();
      s.video_pixels.push_back(v.pixel_values);
      s.video_grids.push_back({g[0], g[1], g[2]});
      s.video_second_per_grid.push_back(v.second_per_grid);
      const int64_t per_frame = g[1] * g[2] / 4;
      if (!p.use_audio_in_video) {
        std::vector<int64_t> block = {ids_.vision_start};
        block.insert(block.end(), g[0] * per_frame, ids_.video_pad);
        block.push_back(ids_.vision_end);
        media.video.push_back(std::move(block));
        continue;
      }
      // Audio of the video: the paired file when the row gives one per video, else the video's own track.
      std::string audio_path = row.audios.size() == row.videos.size() ? row.audios[paired_audio++] : path;
      int64_t n_audio = audio_block_tokens(load_audio_features(audio_path), audio_path);
      // Interleave by time: video token of temporal patch t has value t * second_per_grid * pps,
      // audio token k has value k; the video token goes first on ties (the reference's rule).
      std::vector<int64_t> block = {ids_.vision_start, ids_.audio_start};
      int64_t vi = 0, ai = 0, n_video = g[0] * per_frame;
      while (vi < n_video && ai < n_audio) {
        double video_time = static_cast<double>(vi / per_frame) * v.second_per_grid * position_id_per_seconds_;
        if (video_time <= static_cast<double>(ai))
          block.push_back(ids_.video_pad), ++vi;
        else
          block.push_back(ids_.audio_pad), ++ai;
      }
      block.insert(block.end(), n_video - vi, ids_.video_pad);
      block.insert(block.end(), n_audio - ai, ids_.audio_pad);
      block.push_back(ids_.audio_end);
      block.push_back(ids_.vision_end);
      media.video.push_back(std::move(block));
    } catch (const OverlongError&) {
      throw;
    } catch (const Error& e) {
      throw fail_media(path, e);
    }
  }
  media.audio_in_videos = p.use_audio_in_video && !row.videos.empty() && row.audios.size() == row.videos.size();
  if (!media.audio_in_videos) {
    for (const auto& path : row.audios) {
      try {
        AudioFeatures f = load_audio_features(path);
        audio_block_tokens(f, path);
        media.audio.push_back(audio_block(f.frames));
      } catch (const OverlongError&) {
        throw;
      } catch (const Error& e) {
        throw fail_media(path, e);
      }
    }
  }
  return media;
}

// The rendered turns tokenized, each <image>/<video>/<audio> placeholder replaced by its media block (a paired
// <audio> lives inside its video's block); `text` gets the rendered conversation.
std::vector<TurnTokens> SampleBuilder::expand_placeholders(const RowSample& row, MediaTokens& media,
                                                           const std::string& where, std::string& text) const {
  std::vector<RenderedTurn> turns = render_conversation(row.conversation, config_.basic.chat_template, where);
  auto tokenize = [&](const std::vector<std::string>& pieces) {
    std::vector<int64_t> ids;
    for (const auto& piece : pieces) {
      text += piece;
      size_t pos = 0;
      while (pos <= piece.size()) {
        size_t next = std::string::npos;
        const char* which = nullptr;
        for (const char* ph : {"<image>", "<video>", "<audio>"}) {
          size_t at = piece.find(ph, pos);
          if (at < next) next = at, which = ph;
        }
        std::string_view plain(piece.data() + pos, (next == std::string::npos ? piece.size() : next) - pos);
        for (int32_t id : tokenizer_->encode(plain)) ids.push_back(id);
        if (next == std::string::npos) break;
        std::string ph = which;
        const std::vector<int64_t>* block = nullptr;
        if (ph == "<image>")
          block = &media.image.at(media.next_image++);
        else if (ph == "<video>")
          block = &media.video.at(media.next_video++);
        else if (!media.audio_in_videos)
          block = &media.audio.at(media.next_audio++);
        if (block)
          ids.insert(ids.end(), block->begin(), block->end());  // a paired <audio> lives inside its video block
        pos = next + ph.size();
      }
    }
    return ids;
  };
  std::vector<TurnTokens> out;
  for (const auto& turn : turns) {
    std::vector<int64_t> prompt = tokenize(turn.prompt);  // in this order: media blocks are consumed in text order
    out.push_back({std::move(prompt), tokenize(turn.response)});
  }
  return out;
}

}  // namespace omnitune
