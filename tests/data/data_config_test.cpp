#include "omnitune/data/data_config.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {

using test::error_of;

namespace {
std::string write(const test::TempDir& dir, const std::string& basic_extra, const std::string& extra = "") {
  test::write_text(dir.file("data.json"), R"({"dataset_param": {"dataset_type": "huggingface",
      "preprocess_parameters": {"model_name_or_path": "m", "use_fast_tokenizer": true, "image_max_pixels": 262144},
      "basic_parameters": {"template": "qwen3_omni", "dataset": "a.json,b.jsonl", "dataset_dir": "d")" +
                                              basic_extra + R"(},
      "attr": {"system": null, "images": "images", "videos": null, "audios": null, "messages": "messages",
               "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
               "observation_tag": null, "function_tag": null, "system_tag": null}},
    "dataloader_param": {"dataloader_mode": "sampler", "drop_last": true, "sampler_type": "BaseRandomBatchSampler",
      "collate_param": {"model_name": "qwen2vl", "ignore_pad_token_for_loss": true}, "pin_memory": true, "shuffle": true})" +
                                              extra + "}");
  return dir.file("data.json");
}
}  // namespace

TEST(DataConfig, ReadsTheSeedsFormat) {
  test::TempDir dir;
  DataConfig c = load_data_config(write(dir, R"(, "max_samples": 10, "overwrite_cache": true)"));
  EXPECT_EQ(c.basic.datasets, (std::vector<std::string>{"a.json", "b.jsonl"}));
  EXPECT_EQ(c.basic.max_samples, 10);
  EXPECT_EQ(c.preprocess.image_max_pixels, 262144);
  EXPECT_EQ(c.attr.messages, "messages");
  EXPECT_EQ(c.attr.images, "images");
  EXPECT_EQ(c.attr.videos, "");  // null: no column
  EXPECT_EQ(c.attr.observation_tag, "");
  EXPECT_TRUE(c.loader.shuffle);
  EXPECT_FALSE(c.basic.chat_template.train_on_empty_think);
  EXPECT_EQ(c.ignored.size(), 3u);  // use_fast_tokenizer, overwrite_cache, pin_memory
}

TEST(DataConfig, StreamingCacheAndFakeMediaKeys) {
  test::TempDir dir;
  DataConfig off = load_data_config(write(dir, R"(, "overwrite_cache": true, "buffer_size": 64)"));
  EXPECT_FALSE(off.basic.streaming);
  EXPECT_TRUE(off.basic.cache_dir.empty());
  EXPECT_FALSE(off.basic.overwrite_cache);  // no cache_dir: accepted, reported, nothing to overwrite
  EXPECT_FALSE(off.loader.keep_towers_active);
  EXPECT_EQ(off.ignored.size(), 4u);  // use_fast_tokenizer, buffer_size, overwrite_cache, pin_memory
  DataConfig on = load_data_config(
      write(dir, R"(, "streaming": true, "buffer_size": 64, "cache_dir": "c", "overwrite_cache": true)"));
  EXPECT_TRUE(on.basic.streaming);
  EXPECT_EQ(on.basic.buffer_size, 64);
  EXPECT_EQ(on.basic.cache_dir, "c");
  EXPECT_TRUE(on.basic.overwrite_cache);
  EXPECT_EQ(on.ignored.size(), 2u);
  test::write_text(dir.file("loader.json"), R"({"dataset_param": {"preprocess_parameters": {"model_name_or_path": "m"},
      "basic_parameters": {"dataset": "a.jsonl", "streaming": true}},
    "dataloader_param": {"dataloader_mode": "base", "keep_towers_active": true}})");
  DataConfig towers = load_data_config(dir.file("loader.json"));
  EXPECT_TRUE(towers.loader.keep_towers_active);
}

TEST(DataConfig, ShippedExamplesLoad) {
  DataConfig c = load_data_config(OMNITUNE_SOURCE_DIR "/examples/qwen3omni/data.json");
  EXPECT_EQ(c.basic.chat_template.kind, TemplateKind::kQwen3Omni);
  EXPECT_EQ(load_data_config(OMNITUNE_SOURCE_DIR "/examples/qwen3omni/data_audio.json").attr.audios, "audios");
  EXPECT_TRUE(
      load_data_config(OMNITUNE_SOURCE_DIR "/examples/qwen3omni/data_video_audio.json").preprocess.use_audio_in_video);
  DataConfig tools = load_data_config(OMNITUNE_SOURCE_DIR "/examples/qwen3omni/data_tool_call.json");
  EXPECT_EQ(tools.attr.formatting, RowFormat::kMultimodalTool);
  EXPECT_EQ(tools.basic.chat_template.kind, TemplateKind::kQwen3OmniNothink);
  DataConfig streaming = load_data_config(OMNITUNE_SOURCE_DIR "/examples/qwen3omni/data_streaming.json");
  EXPECT_TRUE(streaming.basic.streaming && streaming.loader.keep_towers_active);
  EXPECT_EQ(streaming.basic.cache_dir, "./data/cache_dir");
}

TEST(DataConfig, ErrorsNameThePathAndFix) {
  test::TempDir dir;
  std::string p = write(dir, R"(, "max_sample": 10)");
  EXPECT_EQ(
      error_of([&] { load_data_config(p); }),
      p + ": $.dataset_param.basic_parameters.max_sample: unknown key 'max_sample' (did you mean 'max_samples'?)");
  p = write(dir, R"(, "packing": true)");
  EXPECT_NE(error_of([&] { load_data_config(p); }).find("basic_parameters.packing: packing is not supported yet"),
            std::string::npos);
  p = write(dir, R"(, "cache_dir": "")");
  EXPECT_NE(error_of([&] { load_data_config(p); }).find("cache_dir: must be a directory path"), std::string::npos);
  p = write(dir, R"(, "buffer_size": 0, "streaming": true)");
  EXPECT_NE(error_of([&] { load_data_config(p); }).find("buffer_size: must be >= 1"), std::string::npos);
  test::write_text(dir.file("base.json"), R"({"dataset_param": {"preprocess_parameters": {"model_name_or_path": "m"},
      "basic_parameters": {"dataset": "a.jsonl"}}, "dataloader_param": {"dataloader_mode": "base"}})");
  EXPECT_NE(error_of([&] { load_data_config(dir.file("base.json")); }).find("set basic_parameters.streaming to true"),
            std::string::npos);
  EXPECT_NO_THROW(load_data_config(write(dir, R"(, "preprocess_on_fly": true)")));
  p = write(dir, R"(, "on_overlong": "drop")");
  EXPECT_NE(error_of([&] { load_data_config(p); }).find("on_overlong: unknown value 'drop'; valid: error, skip"),
            std::string::npos);
  p = write(dir, "", R"(, "extra": 1)");
  EXPECT_NE(error_of([&] { load_data_config(p); }).find("$.extra: unknown key 'extra'"), std::string::npos);
  p = write(dir, R"(, "template": "qwen3_omni_nothink")");  // a second "template": a key given twice is an error
  EXPECT_NE(
      error_of([&] { load_data_config(p); }).find("$.dataset_param.basic_parameters: key 'template' appears twice"),
      std::string::npos);
  std::string text = test::read_text(write(dir, ""));
  text.replace(text.find(R"("qwen3_omni")"), 12, R"("qwen3_omni_no_think")");
  test::write_text(p, text);
  EXPECT_NE(error_of([&] { load_data_config(p); }).find("did you mean 'qwen3_omni_nothink'"), std::string::npos);
}

}  // namespace omnitune
