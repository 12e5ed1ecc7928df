// demo/media_set: the demo's pictures, voice clips and videos, each written under <dir>/media/ with
// the facts its captions state.
#pragma once

#include <string>
#include <vector>

#include "rng.h"

namespace omnitune::demo {

struct ShapeFact {
  std::string colour, kind;  // "red", "circle"
};

struct ImageItem {
  std::string file;               // relative to the dataset directory
  std::string caption;            // one sentence naming every shape, its colour and place
  std::vector<ShapeFact> shapes;  // from left to right
};

struct AudioItem {
  std::string file;
  std::string caption;  // the voice's register, syllables, pitch glide and length
};

struct VideoItem {
  std::string file;
  std::string caption;  // the motion and the sound track
};

struct MediaSet {
  std::vector<ImageItem> images;  // PNG and JPEG, 96x64 to 256x192
  std::vector<AudioItem> audios;  // 1-4 s at 44.1 kHz: WAV, one FLAC
  std::vector<VideoItem> videos;  // 2 s, 96x96, 8 fps, with a 44.1 kHz sound track
};

MediaSet make_media(Rng& rng, const std::string& dataset_dir);

}  // namespace omnitune::demo
