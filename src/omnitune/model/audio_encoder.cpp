#include "omnitune/model/audio_encoder.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/model/audio_lengths.h"
#include "omnitune/model/param_init.h"
#include "omnitune/model/unit_runner.h"

namespace omnitune {

namespace {

const char* const kWhere = "audio encoder";

int64_t chunk_frames(const AudioConfig& config) { return 2 * config.n_window; }

}  // namespace

std::vector<int64_t> audio_chunk_lengths(const std::vector<int64_t>& feature_lens, int64_t chunk) {
  std::vector<int64_t> chunks;
  for (int64_t frames : feature_lens) {
    for (int64_t start = 0; start < frames; start += chunk) chunks.push_back(std::min(chunk, frames - start));
  }
  return chunks;
}

std::vector<int64_t> audio_attention_windows(const std::vector<int64_t>& feature_lens, const AudioConfig& config) {
  const int64_t chunk = chunk_frames(config);
  int64_t longest_chunk_tokens = 0;
  for (int64_t frames : audio_chunk_lengths(feature_lens, chunk))
    longest_chunk_tokens = std::max(longest_chunk_tokens, conv_output_length(frames));
  const int64_t window = longest_chunk_tokens * (config.n_window_infer / chunk);
  std::vector<int64_t> cu{0};
  for (int64_t frames : feature_lens) {
    const int64_t tokens = audio_output_length(frames, chunk);
    if (tokens == 0) continue;
    for (int64_t i = 0; i < tokens / window; ++i) cu.push_back(cu.back() + window);
    if (tokens % window != 0) cu.push_back(cu.back() + tokens % window);
  }
  return cu;
}

at::Tensor audio_sinusoid_positions(int64_t length, int64_t channels) {
  const int64_t half = channels / 2;
  const double increment = std::log(10000.0) / static_cast<double>(half - 1);
  at::Tensor inv_timescales = at::exp(at::arange(half, at::kFloat) * -increment);                     // [half]
  at::Tensor scaled_time = at::arange(length, at::kLong).unsqueeze(1) * inv_timescales.unsqueeze(0);  // [length, half]
  return at::cat({at::sin(scaled_time), at::cos(scaled_time)}, 1);  // [length, channels]
}

// ---------------------------------------------------------------------------------------------------------

AudioAttentionImpl::AudioAttentionImpl(const AudioConfig& config, AttentionBackend backend)
    : heads_(config.encoder_attention_heads), backend_(backend) {
  const int64_t d = config.d_model;
  q_proj = register_module("q_proj", Linear(d, d, true));
  k_proj = register_module("k_proj", Linear(d, d, true));
  v_proj = register_module("v_proj", Linear(d, d, true));
  out_proj = register_module("out_proj", Linear(d, d, true));
}

at::Tensor AudioAttentionImpl::forward(const at::Tensor& x, const std::vector<int64_t>& cu_seqlens,
                                       ContextParallelComm* cp) {
  const int64_t n = x.size(0);
  at::Tensor q = q_proj(x).view({n, heads_, -1});  // [N, H, D]
  at::Tensor k = k_proj(x).view({n, heads_, -1});  // [N, H, D]
  at::Tensor v = v_proj(x).view({n, heads_, -1});  // [N, H, D]
  const double scale = std::pow(static_cast<double>(q.size(2)), -0.5);
  at::Tensor out = cp ? ulysses_segment_attention(*cp, q, k, v, cu_seqlens, scale, backend_)
                      : segment_attention(q, k, v, cu_seqlens, scale, backend_);  // [N, H, D]
  return out_proj(out.reshape({n, -1}));                                          // [N, d_model]
}

AudioEncoderLayerImpl::AudioEncoderLayerImpl(const AudioConfig& config, AttentionBackend backend)
    : activation_(config.activation) {
  self_attn = register_module("self_attn", AudioAttention(config, backend));
  self_attn_layer_norm = register_module("self_attn_layer_norm", LayerNorm(config.d_model, 1e-5));
  fc1 = register_module("fc1", Linear(config.d_model, config.encoder_ffn_dim, true));
  fc2 = register_module("fc2", Linear(config.encoder_ffn_dim, config.d_model, true));
  final_layer_norm = register_module("final_layer_norm", LayerNorm(config.d_model, 1e-5));
}

at::Tensor AudioEncoderLayerImpl::forward(const at::Tensor& x, const std::vector<int64_t>& cu_seqlens,
                                          ContextParallelComm* cp) {
  at::Tensor h = x + self_attn(self_attn_layer_norm(x), cu_seqlens, cp);  // [N, d_model]
  return h + fc2(activate(activation_, fc1(final_layer_norm(h))));        // [N, d_model]
}

// ---------------------------------------------------------------------------------------------------------

AudioEncoderImpl::AudioEncoderImpl(const AudioConfig& config, AttentionBackend backend)
    : config_(config), backend_(backend) {
  const int64_t hidden = config.downsample_hidden_size;
  conv2d1 = register_module("conv2d1", ConvWeights(std::vector<int64_t>{hidden, 1, 3, 3}));
  conv2d2 = register_module("conv2d2", ConvWeights(std::vector<int64_t>{hidden, hidden, 3, 3}));
  conv2d3 = register_module("conv2d3", ConvWeights(std::vector<int64_t>{hidden, hidden, 3, 3}));
  // Conv features per time step: channels x downsampled mel bins.
  conv_out =
      register_module("conv_out", Linear(hidden * conv_output_length(config.num_mel_bins), config.d_model, false));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.encoder_layers; ++i) layers->push_back(AudioEncoderLayer(config, backend));
  ln_post = register_module("ln_post", LayerNorm(config.d_model, 1e-5));
  proj1 = register_module("proj1", Linear(config.d_model, config.d_model, true));
  proj2 = register_module("proj2", Linear(config.d_model, config.output_dim, true));
}

std::vector<int64_t> AudioEncoderImpl::checked_lengths(const at::Tensor& input_features,
                                                       const at::Tensor& feature_lens) const {
  if (input_features.dim() != 3 || input_features.size(1) != config_.num_mel_bins)
    throw Error(cat(kWhere, ": input_features must be [num_audios, num_mel_bins = ", config_.num_mel_bins,
                    ", frames], got ", input_features.sizes()));
  const int64_t audios = input_features.size(0), max_frames = input_features.size(2);
  if (audios < 1) throw Error(cat(kWhere, ": input_features holds no audio"));
  if (feature_lens.dim() != 1 || feature_lens.size(0) != audios ||
      !at::isIntegralType(feature_lens.scalar_type(), false))
    throw Error(cat(kWhere, ": feature_lens must be an integer vector of ", audios, " frame counts, got ",
                    feature_lens.scalar_type(), " ", feature_lens.sizes()));
  at::Tensor host = feature_lens.to(at::kCPU, at::kLong).contiguous();
  std::vector<int64_t> lens(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + audios);
  for (int64_t i = 0; i < audios; ++i) {
    if (lens[i] < 1 || lens[i] > max_frames)
      throw Error(cat(kWhere, ": feature_lens[", i, "] = ", lens[i], " is outside 1..", max_frames,
                      " (the frames of input_features)"));
  }
  return lens;
}

at::Tensor AudioEncoderImpl::chunk_features(const at::Tensor& features, const std::vector<int64_t>& lens,
                                            const std::vector<int64_t>& chunks) const {
  const int64_t audios = features.size(0), mel = features.size(1), max_frames = features.size(2);
  const int64_t num_chunks = static_cast<int64_t>(chunks.size());
  const int64_t longest = *std::max_element(chunks.begin(), chunks.end());
  // Source frame (row of the [Na * Tmax, mel] view) of every (chunk, step) slot; padding slots are masked.
  at::Tensor index = at::zeros({num_chunks * longest}, at::kLong);
  at::Tensor valid = at::zeros({num_chunks * longest}, at::kBool);
  int64_t* idx = index.data_ptr<int64_t>();
  bool* ok = valid.data_ptr<bool>();
  int64_t c = 0;
  for (int64_t a = 0; a < audios; ++a) {
    for (int64_t start = 0; start < lens[a]; start += chunks[c], ++c) {
      for (int64_t t = 0; t < chunks[c]; ++t) {
        idx[c * longest + t] = a * max_frames + start + t;
        ok[c * longest + t] = true;
      }
    }
  }
  at::Tensor frames = features.transpose(1, 2).reshape({audios * max_frames, mel});  // [Na * Tmax, mel]
  at::Tensor gathered = frames.index_select(0, index.to(features.device()));         // [Nc * Lmax, mel]
  gathered = at::where(valid.to(features.device()).unsqueeze(1), gathered, 0);
  return gathered.view({num_chunks, longest, mel}).transpose(1, 2).contiguous();  // [Nc, mel, Lmax]
}

at::Tensor AudioEncoderImpl::embed_chunks(const at::Tensor& chunks) {
  std::vector<at::Tensor> parts;
  for (const at::Tensor& part : chunks.split(config_.conv_chunksize, 0)) {  // bounds the conv activations
    auto conv = [](const ConvWeights& c, const at::Tensor& in) {
      return at::gelu(at::conv2d(in, c->weight, c->bias, 2, 1));
    };
    at::Tensor x = conv(conv2d1, part.unsqueeze(1));  // [n, C, mel/2, Lmax/2]
    x = conv(conv2d2, x);                             // [n, C, mel/4, Lmax/4]
    parts.push_back(conv(conv2d3, x));                // [n, C, F, t']
  }
  at::Tensor x = at::cat(parts, 0);  // [Nc, C, F, t']
  const int64_t num_chunks = x.size(0), steps = x.size(3);
  x = conv_out(x.permute({0, 3, 1, 2}).reshape({num_chunks, steps, -1}));  // [Nc, t', d_model]
  at::Tensor positions =
      audio_sinusoid_positions(steps, config_.d_model).to(x.device(), x.scalar_type());  // [t', d_model]
  return x + positions.unsqueeze(0);
}

at::Tensor AudioEncoderImpl::drop_padding(const at::Tensor& embedded, const std::vector<int64_t>& chunks) const {
  const int64_t steps = embedded.size(1);
  std::vector<int64_t> rows;
  for (size_t c = 0; c < chunks.size(); ++c) {
    for (int64_t t = 0; t < conv_output_length(chunks[c]); ++t) rows.push_back(static_cast<int64_t>(c) * steps + t);
  }
  at::Tensor index = at::tensor(rows, at::kLong).to(embedded.device());
  return embedded.reshape({-1, embedded.size(2)}).index_select(0, index);  // [N, d_model]
}

at::Tensor AudioEncoderImpl::forward(const at::Tensor& input_features, const at::Tensor& feature_lens,
                                     const ActivationMemory& activations, ContextParallelComm* cp) {
  const std::vector<int64_t> lens = checked_lengths(input_features, feature_lens);
  const at::Tensor& weight = conv2d1->weight;
  check_backend(backend_, weight.is_cuda(), kWhere);
  const at::Tensor features = input_features.to(weight.device(), weight.scalar_type());  // [Na, mel, Tmax]
  const std::vector<int64_t> chunks = audio_chunk_lengths(lens, chunk_frames(config_));

  at::Tensor h = drop_padding(embed_chunks(chunk_features(features, lens, chunks)), chunks);  // [N, d_model]
  std::vector<int64_t> windows = audio_attention_windows(lens, config_);
  // Context parallel (the seed's rule): split the tokens when there are more of them than ranks and the group
  // divides the heads; else every rank runs them all.
  if (cp && (config_.encoder_attention_heads % cp->size() != 0 || h.size(0) <= cp->size())) cp = nullptr;
  std::optional<SequenceSplit> split;
  if (cp) {
    split.emplace(h.size(0), cp->size(), cp->rank());
    h = split->local(h, 0, 0);
    windows = padded_segments(windows, *split);
  }
  auto offload = activations.offload ? std::make_shared<ActivationOffload>(config_.encoder_layers) : nullptr;
  for (const auto& module : *layers) {
    auto layer = std::dynamic_pointer_cast<AudioEncoderLayerImpl>(module);
    LayerFunction fn = [layer, windows, cp](const std::vector<at::Tensor>& in) {
      return std::vector<at::Tensor>{layer->forward(in[0], windows, cp)};
    };
    LayerFunction call = [&](const std::vector<at::Tensor>& in) {
      return activations.any() ? recompute(fn, in, layer->parameters(), offload) : fn(in);
    };
    h = run_unit(*layer, {h}, call)[0];
  }
  at::Tensor out = proj2(activate(config_.activation, proj1(ln_post(h))));  // [N, output_dim]
  return cp ? gather_rows(*cp, out, split->length) : out;
}

std::vector<torch::nn::Module*> AudioEncoderImpl::units() {
  std::vector<torch::nn::Module*> out;
  for (const auto& module : *layers) out.push_back(module.get());
  return out;
}

}  // namespace omnitune
