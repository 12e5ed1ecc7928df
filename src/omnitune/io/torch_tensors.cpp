#include "omnitune/io/torch_tensors.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"

namespace omnitune {

at::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kF64: return at::kDouble;
    case DType::kF32: return at::kFloat;
    case DType::kF16: return at::kHalf;
    case DType::kBF16: return at::kBFloat16;
    case DType::kI64: return at::kLong;
    case DType::kI32: return at::kInt;
    case DType::kI16: return at::kShort;
    case DType::kI8: return at::kChar;
    case DType::kU8: return at::kByte;
    case DType::kBool: return at::kBool;
    case DType::kF8E4M3: return at::kFloat8_e4m3fn;
    case DType::kF8E5M2: return at::kFloat8_e5m2;
  }
  throw Error("unreachable dtype");
}

DType to_dtype(at::ScalarType type, const std::string& tensor_name) {
  switch (type) {
    case at::kDouble: return DType::kF64;
    case at::kFloat: return DType::kF32;
    case at::kHalf: return DType::kF16;
    case at::kBFloat16: return DType::kBF16;
    case at::kLong: return DType::kI64;
    case at::kInt: return DType::kI32;
    case at::kShort: return DType::kI16;
    case at::kChar: return DType::kI8;
    case at::kByte: return DType::kU8;
    case at::kBool: return DType::kBool;
    case at::kFloat8_e4m3fn: return DType::kF8E4M3;
    case at::kFloat8_e5m2: return DType::kF8E5M2;
    default:
      throw Error("tensor '" + tensor_name + "': dtype " + std::string(c10::toString(type)) +
                  " cannot be stored in safetensors");
  }
}

at::Tensor read_tensor(const SafetensorsFile& file, const TensorEntry& entry) {
  auto options = at::TensorOptions().dtype(to_scalar_type(entry.dtype)).device(at::kCPU);
  std::span<uint8_t> bytes = file.bytes(entry);
  if (entry.numel() == 0) return at::empty(entry.shape, options);
  if (reinterpret_cast<uintptr_t>(bytes.data()) % dtype_size(entry.dtype) != 0) {
    at::Tensor copy = at::empty(entry.shape, options);
    std::memcpy(copy.data_ptr(), bytes.data(), bytes.size());
    return copy;
  }
  std::shared_ptr<MappedFile> keep_alive = file.mapping();
  return at::from_blob(
      bytes.data(), entry.shape, [keep_alive](void*) {}, options);
}

at::Tensor read_tensor(const SafetensorsCheckpoint& checkpoint, const std::string& name) {
  return read_tensor(checkpoint.file_of(name), checkpoint.entry(name));
}

namespace {
// Contiguous CPU copies where needed (kept alive in `storage`) and their byte views.
std::vector<TensorBytes> as_bytes(const NamedTensors& tensors, std::vector<at::Tensor>& storage) {
  std::vector<TensorBytes> out;
  storage.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    storage.push_back(tensor.to(at::kCPU).contiguous());
    const at::Tensor& t = storage.back();
    out.push_back({name, to_dtype(t.scalar_type(), name), t.sizes().vec(), t.data_ptr(), t.nbytes()});
  }
  return out;
}
}  // namespace

void save_tensors(const std::string& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> storage;
  write_safetensors(path, as_bytes(tensors, storage), metadata);
}

std::vector<std::string> save_tensors_sharded(const std::string& dir, const NamedTensors& tensors,
                                              uint64_t max_shard_bytes,
                                              const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> storage;
  return write_sharded_safetensors(dir, as_bytes(tensors, storage), max_shard_bytes, metadata);
}

}  // namespace omnitune
