#include "omnitune/data/data_config.h"

#include <cmath>

#include "omnitune/core/closest_match.h"
#include "omnitune/core/config_file.h"
#include "omnitune/core/config_reader.h"

namespace omnitune {

namespace {

// Keys of the seed's format that describe its own machinery (HF datasets caching, processes) and
// have no effect here; accepted so that its files load as they are, and reported once.
void accept_ignored(ConfigReader& in, const std::vector<std::string>& keys, DataConfig& c) {
  for (const auto& key : keys)
    if (in.has(key)) c.ignored.push_back(in.path() + "." + key);
}

// A key whose feature is not built yet: an error when it asks for anything but the default.
template <class T>
void not_yet(ConfigReader& in, const std::string& key, const T& inactive, const std::string& feature) {
  if (in.has(key) && in.required<T>(key) != inactive)
    in.fail(key, feature + " is not supported yet; remove the key or set it to its default");
}

OnBad on_bad(ConfigReader& in, const std::string& key) {
  static const EnumNames<OnBad> names = {{OnBad::kError, "error"}, {OnBad::kSkip, "skip"}};
  return in.get_enum(key, names, OnBad::kError, "value");
}

std::string column(ConfigReader& in, const std::string& key, const std::string& fallback) {
  return in.has(key) ? in.required<std::string>(key) : (in.present(key) ? "" : fallback);
}

void read_preprocess(ConfigReader in, DataConfig& c) {
  PreprocessParameters& p = c.preprocess;
  p.model_name_or_path = in.required<std::string>("model_name_or_path");
  p.use_audio_in_video = in.get("use_audio_in_video", p.use_audio_in_video);
  p.image_max_pixels = in.get("image_max_pixels", p.image_max_pixels);
  p.image_min_pixels = in.get("image_min_pixels", p.image_min_pixels);
  p.video_max_pixels = in.get("video_max_pixels", p.video_max_pixels);
  p.video_min_pixels = in.get("video_min_pixels", p.video_min_pixels);
  p.video_fps = in.get("video_fps", p.video_fps);
  p.video_maxlen = in.get("video_maxlen", p.video_maxlen);
  p.audio_sampling_rate = in.get("audio_sampling_rate", p.audio_sampling_rate);
  not_yet<bool>(in, "split_special_tokens", false, "split_special_tokens=true");
  accept_ignored(in, {"use_fast_tokenizer", "trust_remote_code"}, c);
  if (p.image_min_pixels < 1 || p.image_max_pixels < p.image_min_pixels)
    in.fail("image_max_pixels", "must be >= image_min_pixels >= 1");
  if (p.video_min_pixels < 1 || p.video_max_pixels < p.video_min_pixels)
    in.fail("video_max_pixels", "must be >= video_min_pixels >= 1");
  if (p.video_fps <= 0) in.fail("video_fps", "must be > 0");
  if (p.video_maxlen < 1) in.fail("video_maxlen", "must be >= 1");
  if (p.audio_sampling_rate < 1) in.fail("audio_sampling_rate", "must be > 0");
  in.finish();
}

// A comma-separated list of files ("a.json,b.jsonl"; no empty entries).
std::vector<std::string> file_list(ConfigReader& in, const std::string& key) {
  std::vector<std::string> out;
  const std::string list = in.required<std::string>(key);
  for (size_t start = 0; start <= list.size();) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) in.fail(key, "empty entry in the comma-separated list '" + list + "'");
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

void read_basic(ConfigReader in, DataConfig& c) {
  BasicParameters& b = c.basic;
  b.chat_template.kind = parse_template(in.get<std::string>("template", "qwen3_omni"), in.where("template"));
  b.chat_template.train_on_empty_think = in.get("train_on_empty_think", false);
  b.dataset_dir = in.get("dataset_dir", b.dataset_dir);
  b.datasets = file_list(in, "dataset");
  if (in.has("max_samples")) {
    b.max_samples = in.required<int64_t>("max_samples");
    if (*b.max_samples < 1) in.fail("max_samples", "must be >= 1");
  }
  if (in.has("val_dataset")) b.val_datasets = file_list(in, "val_dataset");
  if (in.has("val_max_samples")) b.val_max_samples = in.required<int64_t>("val_max_samples", at_least(1));
  if (in.has("val_rate")) {
    b.val_rate = in.required<double>("val_rate", Range{0, INFINITY, true});
    if (*b.val_rate >= 1 && *b.val_rate != std::floor(*b.val_rate))
      in.fail("val_rate", "a fraction below 1 or a whole number of rows");
  }
  b.cutoff_len = in.get("cutoff_len", b.cutoff_len);
  b.train_on_prompt = in.get("train_on_prompt", b.train_on_prompt);
  b.mask_history = in.get("mask_history", b.mask_history);
  b.on_overlong = on_bad(in, "on_overlong");
  b.on_bad_sample = on_bad(in, "on_bad_sample");
  if (in.has("audio_max_seconds")) b.audio_max_seconds = in.required<double>("audio_max_seconds");
  if (in.has("tool_format") && in.required<std::string>("tool_format") != "qwen")
    in.fail("tool_format", "only the 'qwen' tool format (or null) is supported");
  if (in.has("enable_thinking"))
    c.ignored.push_back(in.path() + ".enable_thinking (the seed never applies it; use train_on_empty_think)");
  b.streaming = in.get("streaming", b.streaming);
  if (in.has("buffer_size")) {
    b.buffer_size = in.required<int64_t>("buffer_size");
    if (b.buffer_size < 1) in.fail("buffer_size", "must be >= 1");
    if (!b.streaming) c.ignored.push_back(in.path() + ".buffer_size (the streaming shuffle buffer; streaming is off)");
  }
  // Samples are always built when the loader needs them (the seed's preprocess_on_fly: true);
  // an explicit false (preprocess everything first) is accepted and reported.
  if (in.has("preprocess_on_fly") && !in.required<bool>("preprocess_on_fly"))
    c.ignored.push_back(in.path() + ".preprocess_on_fly (samples are always built on the fly by the loader's workers)");
  not_yet<bool>(in, "packing", false, "packing");
  not_yet<bool>(in, "neat_packing", false, "neat_packing");
  if (in.has("cache_dir")) {
    b.cache_dir = in.required<std::string>("cache_dir");
    if (b.cache_dir.empty()) in.fail("cache_dir", "must be a directory path (or null for no cache)");
    b.overwrite_cache = in.get("overwrite_cache", b.overwrite_cache);
  } else {
    accept_ignored(in, {"overwrite_cache"}, c);  // no cache_dir: nothing to overwrite
  }
  accept_ignored(in, {"preprocessing_batch_size", "preprocessing_num_workers"}, c);
  in.finish();
}

void read_attr(ConfigReader in, DataConfig& c) {
  Attributes& a = c.attr;
  static const EnumNames<RowFormat> formats = {{RowFormat::kSharegpt, "sharegpt"},
                                               {RowFormat::kAlpaca, "alpaca"},
                                               {RowFormat::kOpenai, "openai"},
                                               {RowFormat::kMultimodalTool, "multimodal_tool"}};
  a.formatting = in.get_enum("formatting", formats, RowFormat::kSharegpt, "formatting");
  a.messages = column(in, "messages", a.messages);
  a.role_tag = column(in, "role_tag", a.role_tag);
  a.content_tag = column(in, "content_tag", a.content_tag);
  a.user_tag = column(in, "user_tag", a.user_tag);
  a.assistant_tag = column(in, "assistant_tag", a.assistant_tag);
  a.observation_tag = column(in, "observation_tag", a.observation_tag);
  a.function_tag = column(in, "function_tag", a.function_tag);
  a.system_tag = column(in, "system_tag", a.system_tag);
  a.system = column(in, "system", "");
  a.images = column(in, "images", "");
  a.videos = column(in, "videos", "");
  a.audios = column(in, "audios", "");
  a.tools = column(in, "tools", "");
  a.prompt = column(in, "prompt", a.prompt);
  a.query = column(in, "query", a.query);
  a.response = column(in, "response", a.response);
  a.history = column(in, "history", "");
  for (const char* key : {"ranking", "chosen", "rejected"})
    not_yet<bool>(in, key, false, std::string(key) + " (preference data)");
  in.finish();
}

void read_loader(ConfigReader in, DataConfig& c) {
  DataloaderParameters& l = c.loader;
  l.shuffle = in.get("shuffle", l.shuffle);
  l.drop_last = in.get("drop_last", l.drop_last);
  l.num_workers = in.get("num_workers", l.num_workers);
  l.keep_towers_active = in.get("keep_towers_active", l.keep_towers_active);
  if (l.num_workers < 0) in.fail("num_workers", "must be >= 0");
  if (in.has("dataloader_mode")) {  // the seed's 'base' mode is its streaming loader: the same here
    std::string mode = in.required<std::string>("dataloader_mode");
    if (mode != "sampler" && !(mode == "base" && c.basic.streaming))
      in.fail("dataloader_mode",
              mode == "base" ? "'base' is the seed's mode for streaming datasets; set basic_parameters.streaming "
                               "to true or use 'sampler'"
                             : "unknown mode '" + mode + "'" + did_you_mean(mode, {"sampler", "base"}));
  }
  if (in.has("sampler_type")) {
    std::string s = in.required<std::string>("sampler_type");
    if (s != "BaseRandomBatchSampler" && s != "stateful_distributed_sampler")
      in.fail("sampler_type", "unknown sampler '" + s + "'" +
                                  did_you_mean(s, {"BaseRandomBatchSampler", "stateful_distributed_sampler"}));
  }
  if (in.has("collate_param")) {
    ConfigReader collate = in.object("collate_param");
    for (const char* key : {"model_name", "collator_id"})
      if (collate.has(key)) {
        std::string m = collate.required<std::string>(key);
        if (m != "qwen3omni" && m != "qwen2vl")
          collate.fail(key, "only the qwen3omni / qwen2vl collators are supported");
      }
    l.ignore_pad_token_for_loss = collate.get("ignore_pad_token_for_loss", l.ignore_pad_token_for_loss);
    if (!l.ignore_pad_token_for_loss)
      collate.fail("ignore_pad_token_for_loss", "must be true (padding never counts in the loss)");
    accept_ignored(collate, {"pad_to_multiple_of"}, c);
    collate.finish();
  }
  accept_ignored(in, {"pin_memory", "enable_preload"}, c);
  in.finish();
}

}  // namespace

DataConfig load_data_config(const std::string& path) { return read_data_config(load_json_file(path), path); }

DataConfig read_data_config(const nlohmann::json& root, const std::string& path) {
  ConfigReader top(root, path);
  DataConfig c;
  c.path = path;
  ConfigReader dataset = top.object("dataset_param");
  std::string type = dataset.get<std::string>("dataset_type", "huggingface");
  if (type != "huggingface") dataset.fail("dataset_type", "only 'huggingface' (JSON / JSONL files) is supported");
  read_preprocess(dataset.object("preprocess_parameters"), c);
  read_basic(dataset.object("basic_parameters"), c);
  if (dataset.has("attr")) read_attr(dataset.object("attr"), c);
  dataset.finish();
  if (top.has("dataloader_param")) read_loader(top.object("dataloader_param"), c);
  top.finish();
  return c;
}

}  // namespace omnitune
