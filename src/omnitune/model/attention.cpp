#include "omnitune/model/attention.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <limits>

#include "omnitune/core/enum_names.h"
#include "omnitune/core/error.h"

namespace omnitune {

const EnumNames<AttnImpl> kAttnImplNames = {
    {AttnImpl::kEager, "eager"}, {AttnImpl::kSdpa, "sdpa"}, {AttnImpl::kFlashAttention2, "flash_attention_2"}};
const EnumNames<AttnLayout> kAttnLayoutNames = {
    {AttnLayout::kBNSD, "BNSD"}, {AttnLayout::kBSND, "BSND"}, {AttnLayout::kTND, "TND"}};

AttnImpl parse_attn_impl(const std::string& text, const std::string& where) {
  return parse_enum(kAttnImplNames, text, where, "attn_implementation");
}

AttnLayout parse_attn_layout(const std::string& text, const std::string& where) {
  return parse_enum(kAttnLayoutNames, text, where, "attn_layout");
}

void check_backend(const AttentionBackend& backend, bool device_is_cuda, const std::string& tower) {
  if (backend.impl == AttnImpl::kFlashAttention2 && !device_is_cuda)
    throw Error(tower +
                ": attn_implementation 'flash_attention_2' needs a CUDA device; on the CPU use 'sdpa' or 'eager'");
  if (backend.impl == AttnImpl::kFlashAttention2 && backend.layout != AttnLayout::kTND)
    throw Error(tower + ": attn_implementation 'flash_attention_2' runs packed sequences: set attn_layout 'TND'");
}

namespace {

// softmax(q k^T * scale + mask) v with the softmax in fp32, as the reference's eager path: the mask adds
// the dtype's lowest value where it is false, so a query that may see no key (left padding) averages
// every value, as transformers' eager attention does (sdpa gives such a row 0, in torch and here alike).
// q: [B, H, S, D], k, v: [B, H, S', D], mask: bool, broadcastable to [B, H, S, S'] (true = attend).
at::Tensor eager(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask, double scale) {
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale;
  if (mask.defined()) {
    at::Scalar lowest;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, scores.scalar_type(), "eager_mask",
                                    [&] { lowest = std::numeric_limits<scalar_t>::lowest(); });
    scores =
        scores + at::where(mask, at::scalar_tensor(0, scores.options()), at::scalar_tensor(lowest, scores.options()));
  }
  at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(probs, v);
}

at::Tensor run(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask, double scale,
               AttnImpl impl) {
  if (impl == AttnImpl::kEager) return eager(q, k, v, mask, scale);
  std::optional<at::Tensor> attn_mask;  // an undefined tensor must be passed as "no mask"
  if (mask.defined()) attn_mask = mask;
  return at::scaled_dot_product_attention(q, k, v, attn_mask, 0.0, false, scale);
}

// Causal attention of q: [B, H, S, D] over k, v: [B, H, S, D] with no padding. sdpa takes is_causal and no
// mask tensor (as the reference does for a batch without padding): no [S, S] mask is built or saved.
at::Tensor run_causal(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, AttnImpl impl) {
  if (impl == AttnImpl::kSdpa) return at::scaled_dot_product_attention(q, k, v, std::nullopt, 0.0, true, scale);
  const int64_t seq = q.size(2);
  return eager(q, k, v, at::ones({seq, seq}, q.options().dtype(at::kBool)).tril(), scale);
}

// [B, Hkv, S, D] -> [B, Hkv * groups, S, D]: kv head g serves q heads g*groups .. g*groups+groups-1.
at::Tensor repeat_kv(const at::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  auto s = x.sizes();
  return x.unsqueeze(2).expand({s[0], s[1], groups, s[2], s[3]}).reshape({s[0], s[1] * groups, s[2], s[3]});
}

at::Tensor flash_varlen(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const std::vector<int64_t>& cu,
                        bool causal, double scale) {
  at::Tensor cu_t = at::tensor(std::vector<int32_t>(cu.begin(), cu.end()), at::kInt).to(q.device());
  int64_t max_len = 0;
  for (size_t i = 0; i + 1 < cu.size(); ++i) max_len = std::max(max_len, cu[i + 1] - cu[i]);
  auto out = at::_flash_attention_forward(q, k, v, cu_t, cu_t, max_len, max_len, 0.0, causal, false, scale);
  return std::get<0>(out);
}

}  // namespace

at::Tensor segment_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const std::vector<int64_t>& cu_seqlens, double scale, const AttentionBackend& backend) {
  const int64_t segments = static_cast<int64_t>(cu_seqlens.size()) - 1;
  if (segments < 1 || cu_seqlens.front() != 0 || cu_seqlens.back() != q.size(0))
    throw Error(cat("segment_attention: cu_seqlens must run from 0 to ", q.size(0)));
  if (backend.impl == AttnImpl::kFlashAttention2) return flash_varlen(q, k, v, cu_seqlens, false, scale);

  if (backend.layout == AttnLayout::kTND) {  // one kernel call per segment, no padding
    std::vector<at::Tensor> outs;
    for (int64_t i = 0; i < segments; ++i) {
      auto slice = [&](const at::Tensor& x) {
        return x.slice(0, cu_seqlens[i], cu_seqlens[i + 1]).transpose(0, 1).unsqueeze(0);
      };
      outs.push_back(run(slice(q), slice(k), slice(v), at::Tensor(), scale, backend.impl).squeeze(0).transpose(0, 1));
    }
    return at::cat(outs, 0);
  }

  // Padded batch of segments [n, H, L, D] with a key mask; BSND builds it as [n, L, H, D] and views it.
  int64_t max_len = 0;
  for (int64_t i = 0; i < segments; ++i) max_len = std::max(max_len, cu_seqlens[i + 1] - cu_seqlens[i]);
  const int64_t heads = q.size(1), dim = q.size(2);
  std::vector<int64_t> lengths(segments);
  at::Tensor index = at::empty({q.size(0)}, at::kLong);
  auto* idx = index.data_ptr<int64_t>();
  for (int64_t i = 0; i < segments; ++i) {
    lengths[i] = cu_seqlens[i + 1] - cu_seqlens[i];
    for (int64_t t = cu_seqlens[i]; t < cu_seqlens[i + 1]; ++t) idx[t] = i * max_len + (t - cu_seqlens[i]);
  }
  index = index.to(q.device());
  auto pad = [&](const at::Tensor& x) {  // [T, H, D] -> [n, H, L, D]
    at::Tensor padded = at::zeros({segments * max_len, heads, dim}, x.options()).index_copy(0, index, x);
    at::Tensor bsnd = padded.view({segments, max_len, heads, dim});
    return backend.layout == AttnLayout::kBSND ? bsnd.transpose(1, 2) : bsnd.permute({0, 2, 1, 3}).contiguous();
  };
  at::Tensor valid =
      at::arange(max_len, at::kLong).unsqueeze(0) < at::tensor(lengths, at::kLong).unsqueeze(1);  // [n, L]
  at::Tensor mask = valid.to(q.device()).view({segments, 1, 1, max_len});
  at::Tensor out = run(pad(q), pad(k), pad(v), mask, scale, backend.impl);  // [n, H, L, D]
  return out.transpose(1, 2).reshape({segments * max_len, heads, dim}).index_select(0, index);
}

at::Tensor causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& attention_mask, double scale, const AttentionBackend& backend) {
  const int64_t batch = q.size(0), seq = q.size(2), groups = q.size(1) / k.size(1);
  if (backend.layout == AttnLayout::kTND || backend.impl == AttnImpl::kFlashAttention2) {
    // Packed: each sample's real tokens (a prefix with right padding) attend causally among themselves.
    at::Tensor lengths = attention_mask.defined() ? attention_mask.sum(1).cpu() : at::full({batch}, seq, at::kLong);
    at::Tensor out = at::zeros_like(q);
    for (int64_t b = 0; b < batch; ++b) {
      int64_t n = lengths[b].item<int64_t>();
      if (n == 0) continue;
      if (attention_mask.defined() && attention_mask[b].slice(0, 0, n).sum().item<int64_t>() != n)
        throw Error("attn_layout 'TND' needs right-padded batches (attention_mask = 1...1 0...0)");
      at::Tensor qb = q[b].slice(1, 0, n), kb = repeat_kv(k.slice(0, b, b + 1).slice(2, 0, n), groups)[0],
                 vb = repeat_kv(v.slice(0, b, b + 1).slice(2, 0, n), groups)[0];
      at::Tensor ob;
      if (backend.impl == AttnImpl::kFlashAttention2) {
        ob = flash_varlen(qb.transpose(0, 1), kb.transpose(0, 1), vb.transpose(0, 1), {0, n}, true, scale)
                 .transpose(0, 1);
      } else {
        ob = run_causal(qb.unsqueeze(0), kb.unsqueeze(0), vb.unsqueeze(0), scale, backend.impl)[0];
      }
      out[b].slice(1, 0, n).copy_(ob);
    }
    return out;
  }
  at::Tensor kr = repeat_kv(k, groups), vr = repeat_kv(v, groups);
  if (backend.layout == AttnLayout::kBSND) {  // same math on [B, S, H, D] storage
    kr = kr.transpose(1, 2).contiguous().transpose(1, 2);
    vr = vr.transpose(1, 2).contiguous().transpose(1, 2);
  }
  if (!attention_mask.defined()) return run_causal(q, kr, vr, scale, backend.impl);
  at::Tensor mask = at::ones({seq, seq}, q.options().dtype(at::kBool)).tril().view({1, 1, seq, seq}) &
                    attention_mask.to(at::kBool).view({batch, 1, 1, seq});  // [B, 1, S, S]
  return run(q, kr, vr, mask, scale, backend.impl);
}

at::Tensor causal_attention_with_past(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                      const AttentionBackend& backend) {
  if (backend.impl == AttnImpl::kFlashAttention2)
    throw Error("generation with attn_implementation 'flash_attention_2' is not supported yet; use 'sdpa'");
  const int64_t fresh = q.size(2), seen = k.size(2), groups = q.size(1) / k.size(1);
  at::Tensor kr = repeat_kv(k, groups), vr = repeat_kv(v, groups);
  if (fresh == seen) return run_causal(q, kr, vr, scale, backend.impl);
  if (fresh != 1) throw Error(cat("internal: generation runs the prompt or one token at a time, not ", fresh));
  return run(q, kr, vr, at::Tensor(), scale, backend.impl);  // the newest token sees every one
}

}  // namespace omnitune
