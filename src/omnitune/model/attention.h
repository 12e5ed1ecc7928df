// model/attention: the attention kernels every tower uses, selectable per tower as in the seed's
// model.json (`attn_implementation` x `attn_layout`). All backends compute the same function:
//   eager  - explicit QK^T, fp32 softmax, @V (the reference's eager path)
//   sdpa   - at::scaled_dot_product_attention
//   flash_attention_2 - the CUDA flash kernel (varlen); rejected on the CPU
// Layouts: BNSD / BSND run padded batches with a mask; TND runs packed variable-length segments.
#pragma once

#include <string>
#include <vector>

#include <ATen/Tensor.h>

namespace omnitune {

enum class AttnImpl { kEager, kSdpa, kFlashAttention2 };
enum class AttnLayout { kBNSD, kBSND, kTND };

struct AttentionBackend {
  AttnImpl impl = AttnImpl::kSdpa;
  AttnLayout layout = AttnLayout::kBNSD;
};

AttnImpl parse_attn_impl(const std::string& text, const std::string& where);
AttnLayout parse_attn_layout(const std::string& text, const std::string& where);
// Throws when the combination cannot run on `device_is_cuda` (e.g. flash_attention_2 on the CPU).
void check_backend(const AttentionBackend& backend, bool device_is_cuda, const std::string& tower);

// Bidirectional attention within segments of a packed sequence, never across them.
// q, k, v: [T, H, D]; cu_seqlens: T_0 = 0 < ... < T_n = T (segment i = rows cu[i]..cu[i+1]).
// Returns [T, H, D].
at::Tensor segment_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const std::vector<int64_t>& cu_seqlens, double scale, const AttentionBackend& backend);

// Causal self-attention with grouped KV heads and key padding.
// q: [B, Hq, S, D]; k, v: [B, Hkv, S, D]; attention_mask: [B, S] (1 = real token) or undefined.
// Returns [B, Hq, S, D]. Padded query rows get the same values as in the reference (they attend to the
// real keys before them); with the TND layout they are zero.
at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& attention_mask, double scale, const AttentionBackend& backend);

// Generation: the s newest tokens attend causally to all T cached ones (themselves included), no padding;
// s = T (the prompt) or s = 1 (one new token). q: [B, Hq, s, D]; k, v: [B, Hkv, T, D]. Returns [B, Hq, s, D]. eager and
// sdpa (any layout: the same math); flash_attention_2 is not supported here.
at::Tensor causal_attention_with_past(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                      const AttentionBackend& backend);

}  // namespace omnitune
