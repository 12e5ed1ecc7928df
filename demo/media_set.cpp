#include "media_set.h"

#include <cmath>
#include <filesystem>

#include "canvas.h"
#include "encode.h"
#include "omnitune/core/error.h"
#include "omnitune/io/atomic_file.h"
#include "voice.h"

namespace omnitune::demo {

namespace {

constexpr int kImages = 8, kAudios = 4, kVideos = 2;
constexpr int kVideoSize = 96, kVideoFps = 8, kVideoFrames = 16;

std::string capitalised(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

// `count` different entries of `items`.
template <class T>
std::vector<T> distinct(Rng& rng, std::vector<T> items, size_t count) {
  for (size_t i = 0; i < count; ++i) std::swap(items[i], items[i + rng.next() % (items.size() - i)]);
  items.resize(count);
  return items;
}

ImageItem make_image(Rng& rng, const std::string& dir, int index) {
  static const std::vector<std::pair<int, int>> sizes = {{96, 64},   {96, 96},   {128, 96},  {128, 128},
                                                         {160, 120}, {192, 128}, {224, 160}, {256, 192}};
  const auto [width, height] = rng.pick(sizes);
  const Colour& background = rng.pick(background_colours());
  const int count = rng.integer(1, 3);
  const std::vector<Colour> colours = distinct(rng, shape_colours(), count);
  Canvas canvas(width, height, background);
  ImageItem item;
  static const std::vector<std::vector<std::string>> places = {
      {"in the middle"}, {"on the left", "on the right"}, {"on the left", "in the middle", "on the right"}};
  std::string listed;
  for (int i = 0; i < count; ++i) {
    const ShapeKind kind = random_shape(rng);
    const double slot = static_cast<double>(width) / count;
    const double radius = std::min(slot, static_cast<double>(height)) * rng.uniform(0.28, 0.42);
    canvas.draw(kind, slot * (i + 0.5) + rng.uniform(-0.08, 0.08) * slot, height * rng.uniform(0.42, 0.58), radius,
                colours[i]);
    item.shapes.push_back({colours[i].name, shape_name(kind)});
    listed += cat(i == 0           ? ""
                  : i + 1 == count ? " and "
                                   : ", ",
                  "a ", colours[i].name, " ", shape_name(kind), " ", places[count - 1][i]);
  }
  if (count == 1)
    item.caption =
        cat("A ", colours[0].name, " ", item.shapes[0].kind, " in the middle of a ", background.name, " picture.");
  else
    item.caption = cat(count == 2 ? "Two" : "Three", " shapes on a ", background.name, " background: ", listed, ".");
  const bool png = index % 2 == 0;
  item.file = cat("media/image_", index, png ? ".png" : ".jpg");
  const std::string path = (std::filesystem::path(dir) / item.file).string();
  if (png)
    write_png(path, canvas);
  else
    write_jpeg(path, canvas, 90);
  return item;
}

AudioItem make_audio(Rng& rng, const std::string& dir, int index) {
  const double seconds = std::round(rng.uniform(1.0, 4.0) * 10) / 10;
  const Voice voice = synthesize_voice(rng, seconds);
  const bool flac = index == kAudios - 1;
  AudioItem item{cat("media/voice_", index, flac ? ".flac" : ".wav"),
                 cat(capitalised(voice.description()), ", lasting ", seconds, " seconds.")};
  const std::string path = (std::filesystem::path(dir) / item.file).string();
  if (flac)
    write_flac(path, voice.samples, kAudioRate);
  else
    write_file_atomic(path, wav_bytes(voice.samples, kAudioRate));
  return item;
}

VideoItem make_video(Rng& rng, const std::string& dir, int index) {
  const Colour& background = rng.pick(background_colours());
  const Colour& colour = rng.pick(shape_colours());
  const ShapeKind kind = random_shape(rng);
  static const std::vector<std::string> directions = {"from the left to the right", "from the right to the left",
                                                      "from the top to the bottom", "from the bottom to the top"};
  const int direction = rng.integer(0, 3);
  const double radius = kVideoSize * rng.uniform(0.12, 0.2), across = rng.uniform(0.3, 0.7) * kVideoSize;
  std::vector<Canvas> frames;
  for (int f = 0; f < kVideoFrames; ++f) {
    const double t = static_cast<double>(f) / (kVideoFrames - 1);
    const double along = radius + (kVideoSize - 2 * radius) * (direction % 2 == 0 ? t : 1 - t);
    frames.emplace_back(kVideoSize, kVideoSize, background);
    if (direction < 2)
      frames.back().draw(kind, along, across, radius, colour);
    else
      frames.back().draw(kind, across, along, radius, colour);
  }
  const Voice voice = synthesize_voice(rng, static_cast<double>(kVideoFrames) / kVideoFps);
  VideoItem item{cat("media/video_", index, ".mp4"),
                 cat("A ", colour.name, " ", shape_name(kind), " moves ", directions[direction], " of a ",
                     background.name, " frame while ", voice.description(), " plays.")};
  write_mp4((std::filesystem::path(dir) / item.file).string(), frames, kVideoFps, voice.samples, kAudioRate);
  return item;
}

}  // namespace

MediaSet make_media(Rng& rng, const std::string& dataset_dir) {
  std::filesystem::create_directories(std::filesystem::path(dataset_dir) / "media");
  MediaSet set;
  for (int i = 0; i < kImages; ++i) set.images.push_back(make_image(rng, dataset_dir, i));
  for (int i = 0; i < kAudios; ++i) set.audios.push_back(make_audio(rng, dataset_dir, i));
  for (int i = 0; i < kVideos; ++i) set.videos.push_back(make_video(rng, dataset_dir, i));
  return set;
}

}  // namespace omnitune::demo
