#include "omnitune/data/content_hash.h"

#include <cstring>

namespace omnitune {

namespace {
uint64_t mix(uint64_t z) {  // the splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
}  // namespace

uint64_t content_hash(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  // Four independent lanes over 32-byte blocks (little-endian words), then the tail, then the length.
  uint64_t lane[4] = {seed ^ 0x9E3779B97F4A7C15ull, seed + 0x632BE59BD9B4E019ull, ~seed,
                      seed * 0xD6E8FEB86659FD93ull + 1};
  size_t i = 0;
  for (; i + 32 <= size; i += 32)
    for (int k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * k, 8);
      lane[k] = rotl(lane[k] ^ (w * 0x9FB21C651E98DF25ull), 29) * 0xC2B2AE3D27D4EB4Full;
    }
  uint64_t tail[4] = {0, 0, 0, 0};
  if (size > i) std::memcpy(tail, p + i, size - i);
  uint64_t h = mix(static_cast<uint64_t>(size) ^ seed);
  for (int k = 0; k < 4; ++k) h = mix(h ^ mix(lane[k] + tail[k] * 0x165667B19E3779F9ull + static_cast<uint64_t>(k)));
  return h;
}

std::string hex64(uint64_t value) {
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  for (int k = 15; k >= 0; --k, value >>= 4) out[k] = digits[value & 15];
  return out;
}

}  // namespace omnitune
