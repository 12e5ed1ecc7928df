// model/context_parallel: Ulysses context parallelism (the seed's `ulysses_cp_algo`). The CP ranks of a group
// read the same samples; each keeps 1/CP of the LLM's sequence through the token-wise parts (norms, MLP/MoE,
// projections, the loss) and, around each attention, trades heads for sequence with an all-to-all: a rank
// attends with 1/CP of the heads over the whole sequence, then the inverse all-to-all gives its own tokens
// back with every head. The gradients of the parameters are then sums of each rank's part (the trainer sums
// them over the job), equal to the single process's.
#pragma once

#include <memory>
#include <vector>

#include <ATen/Tensor.h>

#include "omnitune/model/attention.h"

namespace omnitune {

// The collectives of one CP group; the trainer implements it over a c10d process group.
class ContextParallelComm {
 public:
  virtual ~ContextParallelComm() = default;
  virtual int64_t size() const = 0;
  virtual int64_t rank() const = 0;
  // in [size, ...] contiguous: out[r] = member r's in[rank()] (the same shape).
  virtual at::Tensor all_to_all(const at::Tensor& in) = 0;
  // In place over the members (no autograd).
  virtual void all_reduce_sum(at::Tensor& values) = 0;
};

// Where a sequence of `length` tokens (or a tower's packed rows) is cut: padded at the end to a multiple of
// ranks x granule (the vision merger's 2x2 blocks stay on one rank), rank r keeps [r * chunk, (r + 1) * chunk).
struct SequenceSplit {
  SequenceSplit(int64_t length, int64_t ranks, int64_t rank, int64_t granule = 1);
  int64_t length, padded, chunk, begin, end;
  // x [B, length, ...] -> this rank's [B, chunk, ...]: padded with `fill`, then cut (autograd: the gradient of
  // the other ranks' positions is zero here: they count in their own ranks' sums).
  at::Tensor local(const at::Tensor& x, double fill = 0) const;
  // Along dim `dim` rather than 1.
  at::Tensor local(const at::Tensor& x, int64_t dim, double fill) const;
};

// The LLM's inputs of one micro-batch; position t predicts targets[t] (labels shifted on the whole sequence).
struct TextInputs {
  at::Tensor embeds;                  // [B, S, H]
  at::Tensor attention_mask;          // [B, S] 1 = real token: what the attention sees (the whole sequence);
                                      // undefined: plainly causal
  at::Tensor token_mask;              // [B, s] 1 = a real token among those this rank holds
  at::Tensor position_ids;            // [3, B, S]
  at::Tensor visual_mask;             // [B, S] bool, or undefined
  std::vector<at::Tensor> deepstack;  // [#visual, H] each, the visual tokens' features in token order
  at::Tensor targets;                 // [B, S] int64, kIgnoreIndex = none
  at::Tensor target_weights;          // [B, S] fp32 or undefined (mean)
};

// This rank's part: every per-token tensor cut by `split` (the padding is masked out and has no target), the
// DeepStack rows of its own visual tokens; attention_mask stays whole (padded to split.padded).
TextInputs local_text_inputs(const TextInputs& full, const SequenceSplit& split);

// Heads for sequence: x [B, H, s, D] (this rank's tokens, every head) -> [B, H / CP, CP * s, D] (every token,
// this rank's heads). Its backward is the inverse exchange.
at::Tensor ulysses_gather_sequence(ContextParallelComm& comm, const at::Tensor& x);
// The inverse: [B, h, CP * s, D] -> [B, CP * h, s, D].
at::Tensor ulysses_scatter_sequence(ContextParallelComm& comm, const at::Tensor& x);

// K/V heads [B, Hkv, s, D] prepared for the exchange: with Hkv < CP each head is repeated CP / Hkv times
// (adjacent copies), so that rank r's query heads find their key head among its own (gradients of the
// copies add up). Hkv a multiple of CP: unchanged.
at::Tensor ulysses_kv_heads(const at::Tensor& kv, int64_t cp);

// Attention within the segments of a packed sequence whose rows are split over the group (a tower's patches or
// audio tokens): q, k, v [n, H, D] this rank's rows; cu_seqlens over the whole padded sequence
// (padded_segments). Returns [n, H, D].
at::Tensor ulysses_segment_attention(ContextParallelComm& comm, const at::Tensor& q, const at::Tensor& k,
                                     const at::Tensor& v, const std::vector<int64_t>& cu_seqlens, double scale,
                                     const AttentionBackend& backend);

// cu_seqlens (0 .. split.length) over split.padded rows: the padding, if any, one more segment of its own.
std::vector<int64_t> padded_segments(std::vector<int64_t> cu_seqlens, const SequenceSplit& split);

// Every rank's rows in order: x [n, ...] this rank's -> the first `length` of the [CP * n, ...] (the padding
// dropped). Its backward sums the gradient of this rank's rows over the group (every rank's part of the LLM
// uses them all).
at::Tensor gather_rows(ContextParallelComm& comm, const at::Tensor& x, int64_t length);

// Error unless a tower with `heads` query and `kv_heads` key/value heads can run Ulysses over `cp` ranks.
void check_ulysses_heads(int64_t heads, int64_t kv_heads, int64_t cp, const char* tower);

}  // namespace omnitune
