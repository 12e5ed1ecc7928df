#include "omnitune/media/image.h"

#include "omnitune/core/error.h"
#include "omnitune/media/image_patchify.h"
#include "omnitune/media/image_preresize.h"

namespace omnitune {

RgbImage preresize_image(const RgbImage& image, const ImageOptions& options) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width * image.height * 3))
    throw Error(cat("image of ", image.width, "x", image.height, " pixels holds ", image.pixels.size(), " bytes"));
  return seed_preresize(image, options.min_pixels, options.max_pixels, PreResizeFilter::bicubic);
}

VisionInput process_image(const RgbImage& image, const ImageOptions& options) {
  return patchify_frames({preresize_image(image, options)}, options.processor_min_pixels, options.processor_max_pixels);
}

}  // namespace omnitune
