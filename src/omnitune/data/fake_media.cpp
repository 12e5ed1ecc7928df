#include "omnitune/data/fake_media.h"

#include "omnitune/media/audio.h"
#include "omnitune/media/image.h"

namespace omnitune {

FakeMedia make_fake_media(const SampleBuilder& builder) {
  const PreprocessParameters& p = builder.config().preprocess;
  FakeMedia f;
  RgbImage white{64, 64, std::vector<uint8_t>(64 * 64 * 3, 255)};
  VisionInput v = process_image(white, ImageOptions{p.image_min_pixels, p.image_max_pixels});
  const int64_t* g = v.grid_thw.data_ptr<int64_t>();
  f.image_grid = {g[0], g[1], g[2]};
  f.image_pixels = v.pixel_values;
  f.image_tokens = builder.image_block(f.image_grid);
  f.audio_features = log_mel(std::vector<float>(1600, 0.f));  // 0.1 s at 16 kHz
  f.audio_tokens = builder.audio_block(f.audio_features.size(1));
  return f;
}

}  // namespace omnitune
