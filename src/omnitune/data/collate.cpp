#include "omnitune/data/collate.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"

namespace omnitune {

ThinkerInputs collate(const std::vector<Sample>& samples, int64_t pad_id, int64_t multiple, const FakeMedia* fake) {
  if (samples.empty()) throw Error("collate: empty micro-batch");
  const int64_t b = static_cast<int64_t>(samples.size());
  bool has_vision = false, has_audio = false;
  int64_t host = 0;  // the row that carries the fake media: the shortest
  for (int64_t i = 0; i < b; ++i) {
    const Sample& s = samples[i];
    has_vision = has_vision || !s.image_pixels.empty() || !s.video_pixels.empty();
    has_audio = has_audio || !s.audio_features.empty();
    if (s.input_ids.size() < samples[host].input_ids.size()) host = i;
  }
  std::vector<int64_t> fake_tokens;  // appended to `host`, masked out
  const bool fake_image = fake && !has_vision, fake_audio = fake && !has_audio;
  if (fake_image) fake_tokens.insert(fake_tokens.end(), fake->image_tokens.begin(), fake->image_tokens.end());
  if (fake_audio) fake_tokens.insert(fake_tokens.end(), fake->audio_tokens.begin(), fake->audio_tokens.end());

  int64_t longest = 0;
  for (int64_t i = 0; i < b; ++i)
    longest = std::max<int64_t>(
        longest, static_cast<int64_t>(samples[i].input_ids.size() + (i == host ? fake_tokens.size() : 0)));
  const int64_t length = (longest + multiple - 1) / multiple * multiple;
  ThinkerInputs out;
  out.input_ids = at::full({b, length}, pad_id, at::kLong);
  out.attention_mask = at::zeros({b, length}, at::kLong);
  out.labels = at::full({b, length}, kIgnoreIndex, at::kLong);
  std::vector<at::Tensor> images, videos, audios;
  std::vector<int64_t> image_grids, video_grids;
  std::vector<double> spg;
  for (int64_t i = 0; i < b; ++i) {
    const Sample& s = samples[i];
    out.sources.push_back(s.source);
    const int64_t n = static_cast<int64_t>(s.input_ids.size());
    out.input_ids[i].slice(0, 0, n).copy_(at::tensor(s.input_ids, at::kLong));
    out.labels[i].slice(0, 0, n).copy_(at::tensor(s.labels, at::kLong));
    out.attention_mask[i].slice(0, 0, n).fill_(1);
    if (i == host && !fake_tokens.empty())  // attention_mask 0 and labels -100 stay
      out.input_ids[i]
          .slice(0, n, n + static_cast<int64_t>(fake_tokens.size()))
          .copy_(at::tensor(fake_tokens, at::kLong));
    images.insert(images.end(), s.image_pixels.begin(), s.image_pixels.end());
    videos.insert(videos.end(), s.video_pixels.begin(), s.video_pixels.end());
    audios.insert(audios.end(), s.audio_features.begin(), s.audio_features.end());
    for (const auto& g : s.image_grids) image_grids.insert(image_grids.end(), g.begin(), g.end());
    for (const auto& g : s.video_grids) video_grids.insert(video_grids.end(), g.begin(), g.end());
    spg.insert(spg.end(), s.video_second_per_grid.begin(), s.video_second_per_grid.end());
    out.use_audio_in_video = out.use_audio_in_video || s.use_audio_in_video;
  }
  if (fake_image) {
    images.push_back(fake->image_pixels);
    image_grids.insert(image_grids.end(), fake->image_grid.begin(), fake->image_grid.end());
  }
  if (fake_audio) audios.push_back(fake->audio_features);
  if (!images.empty()) {
    out.pixel_values = at::cat(images, 0);
    out.image_grid_thw = at::tensor(image_grids, at::kLong).view({-1, 3});
  }
  if (!videos.empty()) {
    out.pixel_values_videos = at::cat(videos, 0);
    out.video_grid_thw = at::tensor(video_grids, at::kLong).view({-1, 3});
    out.video_second_per_grid = at::tensor(spg, at::kDouble).to(at::kFloat);
  }
  if (!audios.empty()) {
    int64_t frames = 0;
    for (const auto& a : audios) frames = std::max(frames, a.size(1));
    const int64_t mels = audios[0].size(0), na = static_cast<int64_t>(audios.size());
    out.input_features = at::zeros({na, mels, frames}, at::kFloat);
    out.feature_attention_mask = at::zeros({na, frames}, at::kLong);
    for (int64_t i = 0; i < na; ++i) {
      out.input_features[i].slice(1, 0, audios[i].size(1)).copy_(audios[i]);
      out.feature_attention_mask[i].slice(0, 0, audios[i].size(1)).fill_(1);
    }
  }
  return out;
}

}  // namespace omnitune
