// data/content_hash: a fast, portable 64-bit hash of bytes, for sample-cache file names and checksums
// (detects corruption and accidental collisions; not cryptographic).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace omnitune {

uint64_t content_hash(const void* data, size_t size, uint64_t seed = 0);
std::string hex64(uint64_t value);  // 16 lowercase hex digits

}  // namespace omnitune
