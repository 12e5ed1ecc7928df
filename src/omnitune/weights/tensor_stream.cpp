#include "omnitune/weights/tensor_stream.h"

#include <ATen/ATen.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "omnitune/io/torch_tensors.h"

namespace omnitune {

namespace {

// Rows of `t` per piece so that one converted piece holds about kPieceBytes.
int64_t rows_per_piece(const at::Tensor& t, at::ScalarType dtype) {
  if (t.dim() == 0 || t.size(0) == 0) return 1;
  uint64_t row_bytes = static_cast<uint64_t>(t.numel() / t.size(0)) * c10::elementSize(dtype);
  return std::max<int64_t>(1, static_cast<int64_t>(kPieceBytes / std::max<uint64_t>(1, row_bytes)));
}

void emit_contiguous(const at::Tensor& piece, const ByteSink& sink) {
  if (piece.nbytes() > 0) sink(piece.data_ptr(), piece.nbytes());
}

}  // namespace

void emit_tensor(const at::Tensor& t, at::ScalarType dtype, const ByteSink& sink) {
  if (t.dim() == 0) {
    emit_contiguous(t.to(at::kCPU, dtype).contiguous(), sink);
    return;
  }
  const int64_t step = rows_per_piece(t, dtype);
  for (int64_t row = 0; row < t.size(0); row += step)
    emit_contiguous(t.narrow(0, row, std::min(step, t.size(0) - row)).to(at::kCPU, dtype).contiguous(), sink);
}

void emit_mapped(const SafetensorsFile& file, const TensorEntry& entry, at::ScalarType dtype, const ByteSink& sink) {
  std::span<uint8_t> bytes = file.bytes(entry);
  if (to_scalar_type(entry.dtype) == dtype) {
    for (uint64_t offset = 0; offset < bytes.size(); offset += kPieceBytes) {
      uint64_t n = std::min<uint64_t>(kPieceBytes, bytes.size() - offset);
      sink(bytes.data() + offset, n);
      release_pages(file, entry, offset, n);
    }
    return;
  }
  at::Tensor t = read_tensor(file, entry);
  if (t.dim() == 0) {
    emit_contiguous(t.to(dtype).contiguous(), sink);
    return;
  }
  const int64_t step = rows_per_piece(t, dtype);
  const uint64_t row_bytes = t.size(0) > 0 ? bytes.size() / static_cast<uint64_t>(t.size(0)) : 0;
  for (int64_t row = 0; row < t.size(0); row += step) {
    int64_t n = std::min(step, t.size(0) - row);
    emit_contiguous(t.narrow(0, row, n).to(dtype).contiguous(), sink);
    release_pages(file, entry, static_cast<uint64_t>(row) * row_bytes, static_cast<uint64_t>(n) * row_bytes);
  }
}

void release_pages(const SafetensorsFile& file, const TensorEntry& entry, uint64_t offset, uint64_t size) {
  static const uint64_t kPage = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  std::span<uint8_t> bytes = file.bytes(entry);
  if (offset >= bytes.size()) return;
  size = std::min<uint64_t>(size, bytes.size() - offset);
  const auto base = reinterpret_cast<uintptr_t>(file.mapping()->data());
  const uintptr_t limit = base + (file.mapping()->size() + kPage - 1) / kPage * kPage;
  uintptr_t begin = reinterpret_cast<uintptr_t>(bytes.data()) + offset;
  uintptr_t end = begin + size;
  begin = begin / kPage * kPage;
  end = std::min<uintptr_t>(limit, (end + kPage - 1) / kPage * kPage);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace omnitune
