// Test helper for tests/python/test_vision_encoder.py:
//   vision_encoder_tool <config.json> <weights.safetensors> <inputs.safetensors> <out.safetensors> [attn_impl
//   attn_layout]
// builds the vision encoder in fp32 from the thinker config, loads `thinker.visual.*` weights, runs forward on
// `pixel_values` / `grid_thw`, then backward of sum(tokens * d_tokens) + sum_k sum(deepstack_k * d_deepstack.k),
// and writes `tokens`, `deepstack.{k}`, `grad.pixel_values` and `grad.<parameter>` for every parameter.
#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <iostream>
#include <string>

#include "omnitune/core/error.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/config.h"
#include "omnitune/model/load_module.h"
#include "omnitune/model/vision_encoder.h"

namespace {

omnitune::NamedTensors read_all(const std::string& path) {
  omnitune::SafetensorsCheckpoint file(path);
  omnitune::NamedTensors out;
  for (const auto& name : file.names()) out.emplace_back(name, omnitune::read_tensor(file, name));
  return out;
}

void run(int argc, char** argv) {
  omnitune::AttentionBackend backend;
  if (argc == 7) {
    backend.impl = omnitune::parse_attn_impl(argv[5], "attn_impl");
    backend.layout = omnitune::parse_attn_layout(argv[6], "attn_layout");
  }
  omnitune::ThinkerConfig config = omnitune::load_thinker_config(argv[1]);
  omnitune::VisionEncoder encoder(config.vision, backend);
  encoder->to(at::kFloat);
  omnitune::load_module(*encoder, read_all(argv[2]), "thinker.visual.");

  omnitune::SafetensorsCheckpoint inputs(argv[3]);
  at::Tensor pixels = omnitune::read_tensor(inputs, "pixel_values").to(at::kFloat).clone().requires_grad_(true);
  at::Tensor grid = omnitune::read_tensor(inputs, "grid_thw");
  omnitune::VisionOutput out = encoder->forward(pixels, grid);

  at::Tensor loss = (out.tokens * omnitune::read_tensor(inputs, "d_tokens")).sum();
  for (size_t k = 0; k < out.deepstack.size(); ++k)
    loss = loss + (out.deepstack[k] * omnitune::read_tensor(inputs, "d_deepstack." + std::to_string(k))).sum();
  loss.backward();

  omnitune::NamedTensors result{{"tokens", out.tokens.detach()}};
  for (size_t k = 0; k < out.deepstack.size(); ++k)
    result.emplace_back("deepstack." + std::to_string(k), out.deepstack[k].detach());
  result.emplace_back("grad.pixel_values", pixels.grad());
  for (const auto& [name, param] : omnitune::module_parameters(*encoder)) {
    at::Tensor grad = param.grad();
    result.emplace_back("grad." + name, grad.defined() ? grad : at::zeros_like(param));
  }
  omnitune::save_tensors(argv[4], result);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 7) {
    std::cerr << "usage: vision_encoder_tool <config.json> <weights.safetensors> <inputs.safetensors> <out.safetensors>"
                 " [attn_impl attn_layout]\n";
    return 2;
  }
  try {
    run(argc, argv);
  } catch (const omnitune::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "error (torch): " << e.what_without_backtrace() << "\n";
    return 1;
  }
  return 0;
}
