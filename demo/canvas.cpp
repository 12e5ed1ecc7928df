#include "canvas.h"

#include <algorithm>
#include <cmath>

namespace omnitune::demo {

const std::vector<Colour>& shape_colours() {
  static const std::vector<Colour> colours = {
      {"red", 215, 38, 40},     {"green", 44, 160, 60},   {"blue", 31, 90, 210}, {"yellow", 235, 200, 30},
      {"orange", 245, 130, 20}, {"purple", 140, 60, 175}, {"black", 25, 25, 25}};
  return colours;
}

const std::vector<Colour>& background_colours() {
  static const std::vector<Colour> colours = {{"white", 250, 250, 250},
                                              {"light grey", 205, 205, 205},
                                              {"pale yellow", 250, 240, 200},
                                              {"light blue", 205, 225, 250}};
  return colours;
}

const char* shape_name(ShapeKind kind) {
  switch (kind) {
    case ShapeKind::kCircle: return "circle";
    case ShapeKind::kSquare: return "square";
    case ShapeKind::kTriangle: return "triangle";
  }
  return "shape";
}

ShapeKind random_shape(Rng& rng) { return static_cast<ShapeKind>(rng.integer(0, 2)); }

Canvas::Canvas(int width, int height, const Colour& background) : width_(width), height_(height) {
  pixels_.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < pixels_.size(); i += 3)
    pixels_[i] = background.r, pixels_[i + 1] = background.g, pixels_[i + 2] = background.b;
}

namespace {

// Whether (x, y), relative to the centre, is inside the shape of the given radius.
bool inside(ShapeKind kind, double x, double y, double r) {
  switch (kind) {
    case ShapeKind::kCircle: return x * x + y * y <= r * r;
    case ShapeKind::kSquare: return std::abs(x) <= r * 0.8 && std::abs(y) <= r * 0.8;
    case ShapeKind::kTriangle:  // equilateral, in the circle: apex (0, -r), base corners (+-r sqrt(3)/2, r/2)
      return y >= -r && y <= 0.5 * r && std::abs(x) <= (y + r) / std::sqrt(3.0);
  }
  return false;
}

}  // namespace

void Canvas::draw(ShapeKind kind, double cx, double cy, double radius, const Colour& colour) {
  const int x0 = std::max(0, static_cast<int>(std::floor(cx - radius))),
            x1 = std::min(width_ - 1, static_cast<int>(std::ceil(cx + radius)));
  const int y0 = std::max(0, static_cast<int>(std::floor(cy - radius))),
            y1 = std::min(height_ - 1, static_cast<int>(std::ceil(cy + radius)));
  const uint8_t rgb[3] = {colour.r, colour.g, colour.b};
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      int hits = 0;
      for (int sy = 0; sy < 4; ++sy)
        for (int sx = 0; sx < 4; ++sx) hits += inside(kind, x + (sx + 0.5) / 4 - cx, y + (sy + 0.5) / 4 - cy, radius);
      if (hits == 0) continue;
      uint8_t* p = &pixels_[(static_cast<size_t>(y) * width_ + x) * 3];
      for (int c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>((p[c] * (16 - hits) + rgb[c] * hits + 8) / 16);
    }
}

}  // namespace omnitune::demo
