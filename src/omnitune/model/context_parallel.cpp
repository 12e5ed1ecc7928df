#include "omnitune/model/context_parallel.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "omnitune/core/error.h"
#include "omnitune/model/thinker_inputs.h"

namespace omnitune {

SequenceSplit::SequenceSplit(int64_t n, int64_t ranks, int64_t rank, int64_t granule)
    : length(n),
      padded((n + ranks * granule - 1) / (ranks * granule) * ranks * granule),
      chunk(padded / ranks),
      begin(rank * chunk),
      end(begin + chunk) {}

at::Tensor SequenceSplit::local(const at::Tensor& x, double fill) const { return local(x, 1, fill); }

at::Tensor SequenceSplit::local(const at::Tensor& x, int64_t dim, double fill) const {
  if (x.size(dim) != length) throw Error(cat("context parallel: a sequence of ", x.size(dim), " is not ", length));
  at::Tensor full = x;
  if (padded > length) {
    std::vector<int64_t> pad(2 * (x.dim() - dim), 0);  // constant_pad_nd counts from the last dim
    pad[pad.size() - 1] = padded - length;
    full = at::constant_pad_nd(x, pad, fill);
  }
  return full.narrow(dim, begin, chunk);
}

TextInputs local_text_inputs(const TextInputs& full, const SequenceSplit& split) {
  TextInputs part;
  at::Tensor mask = full.attention_mask.defined()
                        ? full.attention_mask
                        : at::ones({full.embeds.size(0), full.embeds.size(1)}, full.embeds.options().dtype(at::kLong));
  const at::Tensor padded_mask =
      split.padded == split.length ? mask : at::constant_pad_nd(mask, {0, split.padded - split.length}, 0);
  part.token_mask = padded_mask.narrow(1, split.begin, split.chunk);
  // The cut's own padding comes last: no real token attends to it causally and its rows feed nothing (no
  // target, no aux loss), so a batch without padding of its own attends with no mask (no [S, S] tensor).
  const bool own_padding = full.attention_mask.defined() && !full.attention_mask.all().item<bool>();
  part.attention_mask = own_padding ? padded_mask : at::Tensor();
  part.embeds = split.local(full.embeds);
  part.position_ids = split.local(full.position_ids, 2, 1);  // padding at position 1, as the reference's
  if (full.targets.defined()) part.targets = split.local(full.targets, kIgnoreIndex);
  if (full.target_weights.defined()) part.target_weights = split.local(full.target_weights);
  if (full.visual_mask.defined()) {
    // The row of each visual token in the DeepStack features: its rank among the visual positions ([B, S]).
    at::Tensor row = (full.visual_mask.flatten().to(at::kLong).cumsum(0) - 1).view(full.visual_mask.sizes());
    part.visual_mask = split.local(full.visual_mask);
    at::Tensor mine = split.local(row).masked_select(part.visual_mask);  // [#visual here]
    for (const at::Tensor& features : full.deepstack) part.deepstack.push_back(features.index_select(0, mine));
  }
  return part;
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The group travels through the autograd context as an integer (saved_data holds IValues); it outlives the
// step's graph (the trainer owns it for the whole run).
int64_t handle(ContextParallelComm* comm) { return static_cast<int64_t>(reinterpret_cast<intptr_t>(comm)); }
ContextParallelComm& comm_of(AutogradContext* ctx) {
  return *reinterpret_cast<ContextParallelComm*>(static_cast<intptr_t>(ctx->saved_data["comm"].toInt()));
}

// [B, H, s, D] -> [B, H / P, P * s, D]: head block r goes to rank r; the blocks received are the ranks' tokens.
at::Tensor heads_to_sequence(ContextParallelComm& comm, const at::Tensor& x) {
  const int64_t p = comm.size(), b = x.size(0), h = x.size(1), s = x.size(2), d = x.size(3);
  if (h % p != 0) throw Error(cat("context parallel: ", h, " heads do not split over ", p, " ranks"));
  at::Tensor send = x.reshape({b, p, h / p, s, d}).permute({1, 0, 2, 3, 4}).contiguous();  // [P, B, h/P, s, D]
  at::Tensor got = comm.all_to_all(send);                                                  // [P(from), B, h/P, s, D]
  return got.permute({1, 2, 0, 3, 4}).reshape({b, h / p, p * s, d});
}

// [B, h, P * s, D] -> [B, P * h, s, D]: sequence block r goes back to rank r; the blocks received are heads.
at::Tensor sequence_to_heads(ContextParallelComm& comm, const at::Tensor& x) {
  const int64_t p = comm.size(), b = x.size(0), h = x.size(1), d = x.size(3), s = x.size(2) / p;
  at::Tensor send = x.reshape({b, h, p, s, d}).permute({2, 0, 1, 3, 4}).contiguous();  // [P, B, h, s, D]
  at::Tensor got = comm.all_to_all(send);                                              // [P(from), B, h, s, D]
  return got.permute({1, 0, 2, 3, 4}).reshape({b, p * h, s, d});
}

// The exchange as an autograd function: heads for sequence (kToSequence) or back; backward the other way.
template <bool kToSequence>
struct Exchange : public torch::autograd::Function<Exchange<kToSequence>> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, ContextParallelComm* comm) {
    ctx->saved_data["comm"] = handle(comm);
    return kToSequence ? heads_to_sequence(*comm, x) : sequence_to_heads(*comm, x);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    ContextParallelComm& comm = comm_of(ctx);
    return {kToSequence ? sequence_to_heads(comm, grad[0]) : heads_to_sequence(comm, grad[0]), at::Tensor()};
  }
};

// [n, ...] -> [P * n, ...]: every rank's rows; backward: the group's gradients of this rank's rows, summed.
struct GatherRows : public torch::autograd::Function<GatherRows> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, ContextParallelComm* comm) {
    ctx->saved_data["comm"] = handle(comm);
    const int64_t p = comm->size();
    std::vector<int64_t> copies = {p};
    for (int64_t d : x.sizes()) copies.push_back(d);
    at::Tensor got = comm->all_to_all(x.unsqueeze(0).expand(copies).contiguous());  // [P(from), n, ...]
    return got.flatten(0, 1);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    ContextParallelComm& comm = comm_of(ctx);
    std::vector<int64_t> blocks = {comm.size(), grad[0].size(0) / comm.size()};
    for (int64_t d = 1; d < grad[0].dim(); ++d) blocks.push_back(grad[0].size(d));
    at::Tensor got = comm.all_to_all(grad[0].reshape(blocks).contiguous());  // [P(from), n, ...] for my rows
    return {got.sum(0), at::Tensor()};
  }
};

}  // namespace

at::Tensor ulysses_segment_attention(ContextParallelComm& comm, const at::Tensor& q, const at::Tensor& k,
                                     const at::Tensor& v, const std::vector<int64_t>& cu_seqlens, double scale,
                                     const AttentionBackend& backend) {
  auto whole = [&](const at::Tensor& x) {  // [n, H, D] -> [P * n, H / P, D]
    return ulysses_gather_sequence(comm, x.transpose(0, 1).unsqueeze(0)).squeeze(0).transpose(0, 1).contiguous();
  };
  at::Tensor out = segment_attention(whole(q), whole(k), whole(v), cu_seqlens, scale, backend);  // [P*n, H/P, D]
  return ulysses_scatter_sequence(comm, out.transpose(0, 1).unsqueeze(0)).squeeze(0).transpose(0, 1);
}

std::vector<int64_t> padded_segments(std::vector<int64_t> cu_seqlens, const SequenceSplit& split) {
  if (split.padded > split.length) cu_seqlens.push_back(split.padded);
  return cu_seqlens;
}

at::Tensor gather_rows(ContextParallelComm& comm, const at::Tensor& x, int64_t length) {
  return GatherRows::apply(x, &comm).narrow(0, 0, length);
}

at::Tensor ulysses_gather_sequence(ContextParallelComm& comm, const at::Tensor& x) {
  return Exchange<true>::apply(x, &comm);
}

at::Tensor ulysses_scatter_sequence(ContextParallelComm& comm, const at::Tensor& x) {
  return Exchange<false>::apply(x, &comm);
}

at::Tensor ulysses_kv_heads(const at::Tensor& kv, int64_t cp) {
  const int64_t heads = kv.size(1);
  return heads >= cp ? kv : kv.repeat_interleave(cp / heads, 1);
}

void check_ulysses_heads(int64_t heads, int64_t kv_heads, int64_t cp, const char* tower) {
  if (heads % cp != 0)
    throw Error(cat("--context-parallel-size ", cp, ": the ", tower, "'s ", heads,
                    " attention heads do not split over ", cp, " ranks (Ulysses gives each rank whole heads)"));
  if (kv_heads % cp != 0 && cp % kv_heads != 0)
    throw Error(cat("--context-parallel-size ", cp, ": the ", tower, "'s ", kv_heads,
                    " key/value heads are neither a multiple nor a divisor of ", cp,
                    " (with fewer key/value heads than ranks each is repeated on CP / heads ranks)"));
}

}  // namespace omnitune
