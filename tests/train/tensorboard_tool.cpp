// tensorboard_tool LOG_DIR: writes the scalars of stdin, one "tag<TAB>step<TAB>value<TAB>wall_time" per
// line, with TensorBoardWriter (a line "flush" flushes), then prints the event file's path.
#include <cstdlib>
#include <iostream>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/train/tensorboard.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: tensorboard_tool LOG_DIR < scalars.tsv\n";
    return 2;
  }
  try {
    omnitune::TensorBoardWriter writer(argv[1]);
    std::string line;
    for (int number = 1; std::getline(std::cin, line); ++number) {
      if (line == "flush") {
        writer.flush();
        continue;
      }
      size_t a = line.find('\t'), b = line.find('\t', a + 1), c = line.find('\t', b + 1);
      if (c == std::string::npos)
        throw omnitune::Error(omnitune::cat("stdin line ", number, ": expected 4 tab-separated fields"));
      writer.add_scalar(line.substr(0, a), std::strtod(line.c_str() + b + 1, nullptr),
                        std::strtoll(line.c_str() + a + 1, nullptr, 10), std::strtod(line.c_str() + c + 1, nullptr));
    }
    writer.flush();
    std::cout << writer.path() << "\n";
  } catch (const omnitune::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
