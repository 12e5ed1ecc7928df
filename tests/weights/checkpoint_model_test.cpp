#include "omnitune/weights/checkpoint_model.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "omnitune/io/torch_tensors.h"
#include "omnitune/model/hf_checkpoint.h"
#include "omnitune/weights/tensor_stream.h"
#include "test_util.h"

namespace omnitune {
namespace {

namespace fs = std::filesystem;
using test::error_of;

const char* kTinyConfig = OMNITUNE_SOURCE_DIR "/assets/configs/tiny-qwen3-omni/config.json";

std::string config_text() {
  std::ifstream in(kTinyConfig);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Thinker make_thinker(uint64_t seed) {
  Thinker t(load_thinker_config(kTinyConfig));
  init_thinker_weights(*t, seed);
  return t;
}

StreamedTensor streamed(const std::string& name, const at::Tensor& t) {
  return {name, to_dtype(t.scalar_type(), name), t.sizes().vec(),
          [t](const ByteSink& sink) { emit_tensor(t, t.scalar_type(), sink); }};
}

TEST(CheckpointModel, SaveWritesMergedFp32TensorsAndLoadRestoresThem) {
  test::TempDir tmp;
  Thinker a = make_thinker(1);
  save_checkpoint_model(*a, tmp.path().string(), config_text(), "training", 8 << 20);
  ASSERT_TRUE(fs::exists(tmp.path() / kIndexFileName));  // 8 MB shards: several files
  EXPECT_EQ(read_checkpoint_info(tmp.path().string()).kind, "training");
  std::ifstream saved_config(tmp.file("config.json"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(saved_config), {}), config_text());

  SafetensorsCheckpoint files(tmp.path().string());
  EXPECT_EQ(files.names().size(), a->named_parameters(true).size());
  const TensorEntry& gate_up = files.entry("model.layers.2.mlp.experts.gate_up_proj");
  EXPECT_EQ(gate_up.dtype, DType::kF32);
  EXPECT_EQ(gate_up.shape, (std::vector<int64_t>{4, 64, 64}));  // [E, H, 2I]
  EXPECT_TRUE(at::equal(read_tensor(files, "lm_head.weight"), a->lm_head->weight));

  Thinker b = make_thinker(2);
  load_checkpoint_model(*b, tmp.path().string(), config_text());
  auto pa = a->named_parameters(true), pb = b->named_parameters(true);
  for (const auto& item : pa) EXPECT_TRUE(at::equal(item.value(), pb[item.key()])) << item.key();

  Thinker c = make_thinker(3);
  c->to(at::kBFloat16);
  load_checkpoint_model(*c, tmp.path().string(), config_text());
  for (const auto& item : pa)
    EXPECT_TRUE(at::equal(item.value().to(at::kBFloat16), c->named_parameters(true)[item.key()])) << item.key();
}

TEST(CheckpointModel, CheckpointOfAnotherConfigIsNamed) {
  test::TempDir tmp;
  Thinker a = make_thinker(1);
  save_checkpoint_model(*a, tmp.path().string(), config_text(), "release");
  nlohmann::json other = nlohmann::json::parse(config_text());
  other["thinker_config"]["text_config"]["num_hidden_layers"] = 3;
  std::string message = error_of([&] { load_checkpoint_model(*a, tmp.path().string(), other.dump()); });
  EXPECT_EQ(message, "checkpoint " + tmp.path().string() +
                         ": made for a different model config (1 thinker config keys differ):\n"
                         "    thinker_config.text_config.num_hidden_layers (checkpoint 4, expected 3)");
  EXPECT_EQ(error_of([&] { save_checkpoint_model(*a, tmp.path().string(), config_text(), "release"); }),
            tmp.path().string() + ": already holds model weights");
}

TEST(CheckpointModel, EveryTensorProblemIsListed) {
  test::TempDir tmp;
  Thinker a = make_thinker(1);
  std::vector<StreamedTensor> tensors;
  for (const auto& item : a->named_parameters(true)) {
    const std::string& name = item.key();
    if (name == "model.norm.weight") continue;
    if (name == "lm_head.weight")
      tensors.push_back(streamed(name, at::zeros({2, 3})));
    else if (name == "model.layers.0.input_layernorm.weight")
      tensors.push_back(streamed(name, at::ones({64}, at::kInt)));
    else
      tensors.push_back(streamed(name, item.value().detach()));
  }
  tensors.push_back(streamed("model.layers.0.mlp.shared_expert.weight", at::zeros({2})));
  write_checkpoint_model(tmp.path().string(), tensors, config_text(), {"training", "", ""}, 1ull << 30);
  Thinker b = make_thinker(2);
  EXPECT_EQ(
      error_of([&] { load_checkpoint_model(*b, tmp.path().string(), config_text()); }),
      tmp.path().string() +
          ": checkpoint does not match the model config:\n"
          "  1 missing tensors:\n    model.norm.weight\n"
          "  1 unexpected tensors:\n    model.layers.0.mlp.shared_expert.weight\n"
          "  1 tensors with the wrong shape:\n    lm_head.weight (checkpoint [2, 3], model expects [152064, 64])\n"
          "  1 tensors with the wrong dtype:\n    model.layers.0.input_layernorm.weight (I32, expected a "
          "floating-point tensor)");
}

TEST(CheckpointModel, PrefixesFromCheckpointJsonAreApplied) {
  test::TempDir tmp;
  Thinker a = make_thinker(1);
  CheckpointInfo info{"release", "model.", ""};
  std::vector<StreamedTensor> tensors;
  for (const auto& item : a->named_parameters(true))
    tensors.push_back(
        streamed(checkpoint_tensor_name(item.key(), info.dcp_prefix, info.hf_prefix), item.value().detach()));
  write_checkpoint_model(tmp.path().string(), tensors, config_text(), info, 1ull << 30);
  EXPECT_TRUE(SafetensorsCheckpoint(tmp.path().string()).contains("model.lm_head.weight"));
  Thinker b = make_thinker(2);
  load_checkpoint_model(*b, tmp.path().string(), config_text());
  EXPECT_TRUE(at::equal(a->lm_head->weight, b->lm_head->weight));
}

}  // namespace
}  // namespace omnitune
