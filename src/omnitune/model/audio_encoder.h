// model/audio_encoder: the Qwen3-Omni audio encoder (AuT, `thinker.audio_tower`): mel frames ->
// per-chunk conv downsampling -> windowed Transformer -> tokens in the text model's hidden size.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "omnitune/model/attention.h"
#include "omnitune/model/config.h"
#include "omnitune/model/context_parallel.h"
#include "omnitune/model/layers.h"
#include "omnitune/model/recompute.h"

namespace omnitune {

// Frames of each conv chunk, audios in order: every audio of T frames becomes ceil(T/chunk) chunks of
// `chunk` frames, the last one holding the remainder (a full chunk when T is a multiple of `chunk`).
std::vector<int64_t> audio_chunk_lengths(const std::vector<int64_t>& feature_lens, int64_t chunk);

// Attention windows over the packed encoder tokens of all audios: cumulative boundaries starting at 0.
// Each audio's tokens are cut into windows of (longest chunk's token count) * n_window_infer / chunk
// tokens plus a remainder; windows never cross audios.
std::vector<int64_t> audio_attention_windows(const std::vector<int64_t>& feature_lens, const AudioConfig& config);

// Bidirectional multi-head self-attention within the windows (q/k/v/out projections, all biased).
class AudioAttentionImpl : public torch::nn::Module {
 public:
  AudioAttentionImpl(const AudioConfig& config, AttentionBackend backend);
  // x: [N, d_model]; returns [N, d_model]. With `cp`: this rank's rows, cu_seqlens over all of them.
  at::Tensor forward(const at::Tensor& x, const std::vector<int64_t>& cu_seqlens, ContextParallelComm* cp = nullptr);

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};

 private:
  int64_t heads_;
  AttentionBackend backend_;
};
TORCH_MODULE(AudioAttention);

// Pre-LayerNorm Transformer block: x += attn(LN1(x)); x += fc2(GELU(fc1(LN2(x)))).
class AudioEncoderLayerImpl : public torch::nn::Module {
 public:
  AudioEncoderLayerImpl(const AudioConfig& config, AttentionBackend backend);
  // x: [N, d_model]; returns [N, d_model].
  at::Tensor forward(const at::Tensor& x, const std::vector<int64_t>& cu_seqlens, ContextParallelComm* cp = nullptr);

  AudioAttention self_attn{nullptr};
  LayerNorm self_attn_layer_norm{nullptr}, final_layer_norm{nullptr};  // eps 1e-5
  Linear fc1{nullptr}, fc2{nullptr};

 private:
  Activation activation_;
};
TORCH_MODULE(AudioEncoderLayer);

class AudioEncoderImpl : public torch::nn::Module {
 public:
  explicit AudioEncoderImpl(const AudioConfig& config, AttentionBackend backend = {});
  // input_features [Na, num_mel_bins, Tmax] (cast to the weights' dtype); feature_lens [Na] int64 = valid
  // mel frames per audio (= feature_attention_mask.sum(1)). Returns [sum_i audio_output_length(T_i), output_dim],
  // audio 0's tokens first. activations: per-layer recompute / offload. cp: the tokens split over the group
  // when there are more than its ranks and it divides the heads (else every rank runs them all), the output
  // complete on every rank.
  at::Tensor forward(const at::Tensor& input_features, const at::Tensor& feature_lens,
                     const ActivationMemory& activations = {}, ContextParallelComm* cp = nullptr);

  const AudioConfig& config() const { return config_; }
  // The wrapping units forward() runs, in its order: the layers.
  std::vector<torch::nn::Module*> units();

  ConvWeights conv2d1{nullptr}, conv2d2{nullptr}, conv2d3{nullptr};  // 3x3, stride 2, padding 1
  Linear conv_out{nullptr};                                          // no bias
  torch::nn::ModuleList layers{nullptr};                             // AudioEncoderLayer x encoder_layers
  LayerNorm ln_post{nullptr};
  Linear proj1{nullptr}, proj2{nullptr};

 private:
  // Validated frame counts of the audios (host copy of feature_lens).
  std::vector<int64_t> checked_lengths(const at::Tensor& input_features, const at::Tensor& feature_lens) const;
  // [Na, mel, Tmax] -> [Nc, mel, Lmax]: each chunk's frames, right-padded with zeros to the longest chunk.
  at::Tensor chunk_features(const at::Tensor& features, const std::vector<int64_t>& lens,
                            const std::vector<int64_t>& chunks) const;
  // [Nc, mel, Lmax] -> [Nc, t', d_model]: convs + GELU, conv_out, plus the per-chunk sinusoid positions.
  at::Tensor embed_chunks(const at::Tensor& chunks);
  // [Nc, t', d_model] -> [N, d_model]: each chunk's valid rows, in order.
  at::Tensor drop_padding(const at::Tensor& embedded, const std::vector<int64_t>& chunks) const;

  AudioConfig config_;
  AttentionBackend backend_;
};
TORCH_MODULE(AudioEncoder);

// Sinusoid position table [length, channels] (first half sin, second half cos), float32.
at::Tensor audio_sinusoid_positions(int64_t length, int64_t channels);

}  // namespace omnitune
