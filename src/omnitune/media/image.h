// media/image: still images for the vision tower. Decoding to RGB, the seed's pre-resize and the
// Qwen2-VL image processor (bicubic resize, normalisation, patch flattening) that builds model inputs.
#pragma once

// Reference matched (bit for bit): transformers 5.12.1, whose AutoImageProcessor / AutoVideoProcessor (and so
// Qwen3OmniMoeProcessor) pick the torchvision backends when torchvision is installed: Qwen2VLImageProcessor
// (a TorchvisionBackend; the PIL one is Qwen2VLImageProcessorPil) and Qwen2VLVideoProcessor. Their resize is
// torchvision's uint8 bicubic with antialias on CPU. Before them, the seed (MindSpeed-MM's Qwen3-Omni plugin,
// from LLaMA-Factory) pre-resizes with PIL: bicubic for images, NEAREST for video frames.
// Differences from the seed, by choice: EXIF orientation is applied (the seed ignores it); the pre-resize
// runs after the conversion to RGB (the seed resizes RGBA premultiplied and palette images with NEAREST
// before converting, so translucent or palette images that need a pre-resize may differ slightly).

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace omnitune {

// 8-bit RGB pixels, row-major, interleaved (height x width x 3).
struct RgbImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

// Reads a JPEG, PNG, WebP, BMP or GIF (first frame) file (format told by its bytes, not its name) into
// RGB: EXIF orientation applied as PIL's ImageOps.exif_transpose does, alpha dropped without
// premultiplication, grey and palette expanded. Throws Error naming the file on failure.
RgbImage decode_image(const std::string& path);

// Bicubic resize exactly as the Hugging Face processor resizes uint8 images (torchvision resize with
// antialias=True on CPU). Returns a copy when the size does not change. See media/image_resize.h for the
// PIL resamplers the seed's pre-resize uses.
RgbImage resize_bicubic(const RgbImage& image, int64_t width, int64_t height);

// What the vision tower eats for one image or video.
struct VisionInput {
  at::Tensor pixel_values;  // [N, 3*2*16*16] float32, rows in (t, block-row, block-col, row, col) order
  at::Tensor grid_thw;      // [3] int64: grid_t, height/16, width/16
};

struct ImageOptions {
  // The seed's pre-resize bounds (image_min_pixels, image_max_pixels).
  int64_t min_pixels = 1024, max_pixels = 589824;
  // The image processor's own smart_resize bounds (preprocessor_config.json min_pixels/max_pixels).
  int64_t processor_min_pixels = 3136, processor_max_pixels = 12845056;
};

// The seed's pre-resize of an image (PIL bicubic into [min_pixels, max_pixels], then the Qwen2-VL fix-ups:
// shorter side at least 28, aspect ratio at most 200). Returns the image unchanged when nothing applies.
RgbImage preresize_image(const RgbImage& image, const ImageOptions& options);

// preresize_image, then the image processor: smart_resize (factor 32), bicubic resize, x/255, (x-0.5)/0.5,
// the frame repeated to 2, flattened into patches. grid_thw = [1, h/16, w/16].
VisionInput process_image(const RgbImage& image, const ImageOptions& options);

}  // namespace omnitune
