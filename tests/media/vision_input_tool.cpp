// Test helper for tests/python/test_vision_inputs.py:
//   vision_input_tool image <file> <out.safetensors> [min_pixels max_pixels]
//     writes `decoded` (uint8 [H,W,3]: decode + EXIF orientation + RGB), `resized` (uint8, after the seed's
//     pre-resize), `pixel_values` (float32 [N,1536]) and `grid_thw` (int64 [3]).
//   vision_input_tool video <file> <out.safetensors> [fps max_frames min_pixels max_pixels]
//     writes `pixel_values`, `grid_thw`, `frame_indices` (int64), `second_per_grid`, `effective_fps`,
//     `duration` (float64 [1]), `total_frames` (int64 [1]), the sampled decoded frames `frames`
//     (uint8 [F,H,W,3]) and `resized_frames` (uint8, what the video processor receives).
// Errors: message on stderr, exit code 1. Bad usage: exit code 2.
#include <ATen/ATen.h>

#include <iostream>
#include <string>
#include <vector>

#include "omnitune/core/error.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/media/image.h"
#include "omnitune/media/video.h"

namespace {

at::Tensor pixels_of(const omnitune::RgbImage& image) {
  return at::from_blob(const_cast<uint8_t*>(image.pixels.data()), {image.height, image.width, 3}, at::kByte).clone();
}

at::Tensor stack_frames(const std::vector<omnitune::RgbImage>& frames) {
  std::vector<at::Tensor> tensors;
  for (const auto& frame : frames) tensors.push_back(pixels_of(frame));
  return at::stack(tensors);
}

at::Tensor scalar_f64(double value) { return at::full({1}, value, at::kDouble); }

int64_t integer(const char* text) { return std::stoll(text); }

int run_image(int argc, char** argv) {
  omnitune::ImageOptions options;
  if (argc == 6) {
    options.min_pixels = integer(argv[4]);
    options.max_pixels = integer(argv[5]);
  }
  const omnitune::RgbImage decoded = omnitune::decode_image(argv[2]);
  const omnitune::RgbImage resized = omnitune::preresize_image(decoded, options);
  const omnitune::VisionInput input = omnitune::process_image(decoded, options);
  omnitune::save_tensors(argv[3], {{"decoded", pixels_of(decoded)},
                                   {"resized", pixels_of(resized)},
                                   {"pixel_values", input.pixel_values},
                                   {"grid_thw", input.grid_thw}});
  return 0;
}

int run_video(int argc, char** argv) {
  omnitune::VideoOptions options;
  if (argc == 8) {
    options.fps = std::stod(argv[4]);
    options.max_frames = integer(argv[5]);
    options.min_pixels = integer(argv[6]);
    options.max_pixels = integer(argv[7]);
  }
  const omnitune::SampledVideo sampled = omnitune::sample_video(argv[2], options);
  const std::vector<omnitune::RgbImage> resized = omnitune::preresize_video_frames(sampled.frames, options);
  const omnitune::VideoInput input = omnitune::process_video(sampled, options);
  omnitune::save_tensors(argv[3], {{"pixel_values", input.pixel_values},
                                   {"grid_thw", input.grid_thw},
                                   {"frame_indices", at::tensor(input.frame_indices, at::kLong)},
                                   {"second_per_grid", scalar_f64(input.second_per_grid)},
                                   {"effective_fps", scalar_f64(input.effective_fps)},
                                   {"duration", scalar_f64(sampled.duration_seconds)},
                                   {"total_frames", at::full({1}, sampled.total_frames, at::kLong)},
                                   {"frames", stack_frames(sampled.frames)},
                                   {"resized_frames", stack_frames(resized)}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const bool image_usage = mode == "image" && (argc == 4 || argc == 6);
  const bool video_usage = mode == "video" && (argc == 4 || argc == 8);
  if (!image_usage && !video_usage) {
    std::cerr << "usage: vision_input_tool image <file> <out.safetensors> [min_pixels max_pixels]\n"
                 "       vision_input_tool video <file> <out.safetensors> [fps max_frames min_pixels max_pixels]\n";
    return 2;
  }
  try {
    return image_usage ? run_image(argc, argv) : run_video(argc, argv);
  } catch (const omnitune::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::logic_error& e) {  // a number argument that does not parse
    std::cerr << "usage: bad number argument (" << e.what() << ")\n";
    return 2;
  }
}
