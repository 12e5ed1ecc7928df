// data/data_config: the seed's data.json (`--mm-data`), typed. Keys, defaults and meanings follow
// MindSpeed-MM's; every key is checked (an unknown one is an error naming its path and the closest
// valid key), and keys whose feature OmniTune does not have yet are rejected, never ignored.
// A field that changes what a built sample holds must also enter the cache key (data/sample_cache.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omnitune/text/chat_template.h"

namespace omnitune {

enum class RowFormat { kSharegpt, kAlpaca, kOpenai, kMultimodalTool };
enum class OnBad { kError, kSkip };  // what a bad row / an over-long sample does

struct PreprocessParameters {
  std::string model_name_or_path;  // HF directory: tokenizer files (and preprocessor config)
  bool use_audio_in_video = false;
  int64_t image_max_pixels = 589824, image_min_pixels = 1024;
  int64_t video_max_pixels = 65536, video_min_pixels = 256;
  double video_fps = 2.0;
  int64_t video_maxlen = 128;
  int64_t audio_sampling_rate = 16000;
};

struct BasicParameters {
  TemplateOptions chat_template;
  std::string dataset_dir = "data";
  std::vector<std::string> datasets;  // "a.json,b.jsonl" split on ','
  std::optional<int64_t> max_samples;
  // Validation rows: val_dataset's files ("a.json,b.jsonl", capped by val_max_samples), or else val_rate of
  // the training rows held out (a fraction below 1, or a number of rows; chosen with the run's seed).
  std::vector<std::string> val_datasets;
  std::optional<int64_t> val_max_samples;
  std::optional<double> val_rate;
  int64_t cutoff_len = 1024;  // token budget per sample (the trainer's --seq-length overrides it)
  bool train_on_prompt = false;
  bool mask_history = false;
  OnBad on_overlong = OnBad::kError;
  OnBad on_bad_sample = OnBad::kError;
  std::optional<double> audio_max_seconds;
  bool streaming = false;        // JSON Lines read row by row, memory flat in dataset size (data/stream_rows.h)
  int64_t buffer_size = 16384;   // streaming + shuffle: rows in the seeded shuffle buffer
  std::string cache_dir;         // built samples stored and reused here (data/sample_cache.h); empty = none
  bool overwrite_cache = false;  // with cache_dir: entries of earlier runs are rebuilt, not reused
};

struct Attributes {
  RowFormat formatting = RowFormat::kSharegpt;
  std::string messages = "conversations", role_tag = "from", content_tag = "value";
  std::string user_tag = "human", assistant_tag = "gpt", observation_tag = "observation",
              function_tag = "function_call", system_tag = "system";
  std::string system, images, videos, audios, tools;                                  // column names; empty = none
  std::string prompt = "instruction", query = "input", response = "output", history;  // alpaca
};

struct DataloaderParameters {
  bool shuffle = true;
  bool drop_last = true;
  int64_t num_workers = 2;
  bool ignore_pad_token_for_loss = true;
  int64_t pad_to_multiple_of = 8;
  // Micro-batches without an image/video (or without audio) get a fake 64x64 white image (or 0.1 s of
  // silence) appended with attention_mask 0 and labels -100, so every tower runs on every rank.
  bool keep_towers_active = false;
};

struct DataConfig {
  std::string path;  // the data.json itself (for messages)
  PreprocessParameters preprocess;
  BasicParameters basic;
  Attributes attr;
  DataloaderParameters loader;
  std::vector<std::string> ignored;  // keys accepted for compatibility that change nothing here
};

DataConfig load_data_config(const std::string& path);
// The same from the JSON already parsed (`path` labels errors and is kept as DataConfig::path).
DataConfig read_data_config(const nlohmann::json& root, const std::string& path);

}  // namespace omnitune
