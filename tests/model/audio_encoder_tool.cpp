// Test helper for tests/python/test_audio_encoder.py:
//   audio_encoder_tool <config.json> <weights.safetensors> <inputs.safetensors> <out.safetensors> [attn_impl
//   attn_layout]
// builds the audio encoder in fp32 from the thinker config, loads `thinker.audio_tower.*` from the weights,
// runs forward on `input_features` / `feature_lens` and backward of sum(out * d_out), and writes `out`,
// `grad.input_features` and `grad.<parameter name>` for every parameter.
#include <ATen/ATen.h>

#include <iostream>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/audio_encoder.h"
#include "omnitune/model/config.h"
#include "omnitune/model/load_module.h"

namespace {

omnitune::NamedTensors read_all(const omnitune::SafetensorsCheckpoint& file) {
  omnitune::NamedTensors tensors;
  for (const auto& name : file.names()) tensors.emplace_back(name, omnitune::read_tensor(file, name));
  return tensors;
}

int run(int argc, char** argv) {
  omnitune::AttentionBackend backend;
  if (argc == 7) {
    backend.impl = omnitune::parse_attn_impl(argv[5], "attn_impl");
    backend.layout = omnitune::parse_attn_layout(argv[6], "attn_layout");
  }
  const omnitune::ThinkerConfig config = omnitune::load_thinker_config(argv[1]);
  omnitune::AudioEncoder encoder(config.audio, backend);
  encoder->to(at::kFloat);
  omnitune::load_module(*encoder, read_all(omnitune::SafetensorsCheckpoint(argv[2])), "thinker.audio_tower.");

  omnitune::SafetensorsCheckpoint inputs(argv[3]);
  at::Tensor features = omnitune::read_tensor(inputs, "input_features").to(at::kFloat).clone().requires_grad_(true);
  at::Tensor lens = omnitune::read_tensor(inputs, "feature_lens");
  at::Tensor d_out = omnitune::read_tensor(inputs, "d_out").to(at::kFloat);

  at::Tensor out = encoder->forward(features, lens);  // [N, output_dim]
  if (out.sizes() != d_out.sizes())
    throw omnitune::Error(omnitune::cat("output ", out.sizes(), " does not match d_out ", d_out.sizes()));
  (out * d_out).sum().backward();

  auto grad_of = [](const at::Tensor& t) { return t.grad().defined() ? t.grad() : at::zeros_like(t); };
  omnitune::NamedTensors results{{"out", out.detach()}, {"grad.input_features", grad_of(features)}};
  for (const auto& [name, param] : omnitune::module_parameters(*encoder))
    results.emplace_back("grad." + name, grad_of(param));
  omnitune::save_tensors(argv[4], results);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 7) {
    std::cerr << "usage: audio_encoder_tool <config.json> <weights.safetensors> <inputs.safetensors> <out.safetensors>"
                 " [attn_impl attn_layout]\n";
    return 2;
  }
  try {
    return run(argc, argv);
  } catch (const omnitune::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return 3;
  }
}
