// media/image_exif: the EXIF orientation of JPEG, PNG and WebP files and its application, as PIL's
// Image.getexif() + ImageOps.exif_transpose() read and apply it (XMP tiff:Orientation as the fallback).
#pragma once

#include <cstddef>
#include <cstdint>

#include "omnitune/media/image.h"

namespace omnitune {

enum class ImageContainer { jpeg, png, webp, bmp, gif };

// Orientation 1..8 of an encoded image file; 1 when the file carries none (or a malformed one).
int exif_orientation(const uint8_t* data, size_t size, ImageContainer container);

// The orientation parsed from a TIFF/EXIF block (with or without the "Exif\0\0" prefix); 0 when absent.
int tiff_orientation(const uint8_t* data, size_t size);

// Rotates/mirrors `image` so it displays upright: 2 mirror, 3 rotate 180, 4 flip, 5 transpose,
// 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise; other values return it as is.
RgbImage apply_exif_orientation(const RgbImage& image, int orientation);

}  // namespace omnitune
