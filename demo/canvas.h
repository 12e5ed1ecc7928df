// demo/canvas: RGB pictures of plain coloured shapes, each colour and shape with the words that
// describe it (the captions the demo model learns).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rng.h"

namespace omnitune::demo {

struct Colour {
  std::string name;
  uint8_t r, g, b;
};

const std::vector<Colour>& shape_colours();       // strong colours: red, green, blue, ...
const std::vector<Colour>& background_colours();  // pale ones: white, light grey, ...

enum class ShapeKind { kCircle, kSquare, kTriangle };
const char* shape_name(ShapeKind kind);
ShapeKind random_shape(Rng& rng);

// 8-bit RGB, row-major, interleaved.
class Canvas {
 public:
  Canvas(int width, int height, const Colour& background);
  // A shape centred at (cx, cy) that fits a circle of `radius`, edges anti-aliased (4x4 samples per pixel).
  void draw(ShapeKind kind, double cx, double cy, double radius, const Colour& colour);

  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<uint8_t>& pixels() const { return pixels_; }

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;
};

}  // namespace omnitune::demo
