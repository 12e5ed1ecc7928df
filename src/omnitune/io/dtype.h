// io/dtype: the element types of the safetensors format, by their on-disk names.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace omnitune {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool, kF8E4M3, kF8E5M2 };

const char* dtype_name(DType dtype);                            // "F32", "BF16", "F8_E4M3", ...
std::optional<DType> dtype_from_name(const std::string& name);  // nullopt when unknown
size_t dtype_size(DType dtype);                                 // bytes per element
const std::vector<std::string>& dtype_names();                  // every valid name, for messages

}  // namespace omnitune
