#include "omnitune/data/sample_cache.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <span>

#include <nlohmann/json.hpp>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/data/content_hash.h"
#include "omnitune/data/sample_file.h"

namespace omnitune {

namespace {

constexpr int kCacheFormat = 1;

nlohmann::json stamp_json(const FileStamp& s) {
  return {{"path", std::filesystem::absolute(s.path).lexically_normal().string()},
          {"size", s.size},
          {"mtime_ns", s.mtime_ns}};
}

// Everything of the data.json and the model directory that shapes a sample (see data_config.h).
std::string fingerprint(const DataConfig& c) {
  const PreprocessParameters& p = c.preprocess;
  const BasicParameters& b = c.basic;
  const Attributes& a = c.attr;
  nlohmann::json model_files = nlohmann::json::object();
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "config.json"}) {
    std::optional<FileStamp> s = stamp_file((std::filesystem::path(p.model_name_or_path) / name).string());
    model_files[name] = s ? stamp_json(*s) : nlohmann::json();
  }
  nlohmann::json j = {
      {"format", kCacheFormat},
      {"preprocess",
       {{"model_name_or_path", std::filesystem::absolute(p.model_name_or_path).lexically_normal().string()},
        {"use_audio_in_video", p.use_audio_in_video},
        {"image_max_pixels", p.image_max_pixels},
        {"image_min_pixels", p.image_min_pixels},
        {"video_max_pixels", p.video_max_pixels},
        {"video_min_pixels", p.video_min_pixels},
        {"video_fps", p.video_fps},
        {"video_maxlen", p.video_maxlen},
        {"audio_sampling_rate", p.audio_sampling_rate}}},
      {"basic",
       {{"template", static_cast<int>(b.chat_template.kind)},
        {"train_on_empty_think", b.chat_template.train_on_empty_think},
        {"dataset_dir", std::filesystem::absolute(b.dataset_dir).lexically_normal().string()},
        {"cutoff_len", b.cutoff_len},
        {"train_on_prompt", b.train_on_prompt},
        {"mask_history", b.mask_history},
        {"audio_max_seconds", b.audio_max_seconds ? nlohmann::json(*b.audio_max_seconds) : nlohmann::json()}}},
      {"attr",
       {{"formatting", static_cast<int>(a.formatting)},
        {"messages", a.messages},
        {"role_tag", a.role_tag},
        {"content_tag", a.content_tag},
        {"user_tag", a.user_tag},
        {"assistant_tag", a.assistant_tag},
        {"observation_tag", a.observation_tag},
        {"function_tag", a.function_tag},
        {"system_tag", a.system_tag},
        {"system", a.system},
        {"images", a.images},
        {"videos", a.videos},
        {"audios", a.audios},
        {"tools", a.tools},
        {"prompt", a.prompt},
        {"query", a.query},
        {"response", a.response},
        {"history", a.history}}},
      {"model_files", model_files}};
  return j.dump();
}

// Hash of what an entry holds: every tensor's name, dtype, shape and bytes (in name order) and the metadata.
uint64_t checksum(const std::vector<std::pair<std::string, std::pair<std::string, std::span<const uint8_t>>>>& tensors,
                  const std::string& text, const std::string& flag) {
  uint64_t h = content_hash(text.data(), text.size(), 1);
  h = content_hash(flag.data(), flag.size(), h);
  for (const auto& [name, layout_bytes] : tensors) {
    const std::string head = name + "|" + layout_bytes.first;
    h = content_hash(head.data(), head.size(), h);
    h = content_hash(layout_bytes.second.data(), layout_bytes.second.size(), h);
  }
  return h;
}

std::string layout(const std::string& dtype, const std::vector<int64_t>& shape) {
  std::string out = dtype;
  for (int64_t d : shape) out += cat(",", d);
  return out;
}

}  // namespace

SampleCache::SampleCache(const DataConfig& config)
    : dir_(config.basic.cache_dir), fingerprint_(fingerprint(config)), overwrite_(config.basic.overwrite_cache) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec || !std::filesystem::is_directory(dir_))
    throw Error(
        cat(config.path, ": cache_dir '", dir_, "' cannot be created: ", ec ? ec.message() : "not a directory"));
  if (::access(dir_.c_str(), W_OK) != 0) throw Error(cat(config.path, ": cache_dir '", dir_, "' is not writable"));
  std::random_device device;
  run_ = hex64((static_cast<uint64_t>(device()) << 32) ^ device() ^
               static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
               static_cast<uint64_t>(::getpid()));
}

std::optional<SampleCache::Entry> SampleCache::entry(const RowOrigin& origin, const RowSample& row) const {
  if (!origin.file) return std::nullopt;
  nlohmann::json media = nlohmann::json::array();
  for (const auto* list : {&row.images, &row.videos, &row.audios})
    for (const auto& path : *list) {
      std::optional<FileStamp> s = stamp_file(path);
      if (!s) return std::nullopt;
      media.push_back(stamp_json(*s));
    }
  nlohmann::json j = {{"data", stamp_json(*origin.file)}, {"row", origin.row}, {"media", media}};
  Entry e;
  e.key = fingerprint_ + j.dump();
  const std::string name =
      hex64(content_hash(e.key.data(), e.key.size(), 0x5eed)) + hex64(content_hash(e.key.data(), e.key.size(), 7));
  e.path = (std::filesystem::path(dir_) / name.substr(0, 2) / (name + ".safetensors")).string();
  return e;
}

std::optional<Sample> SampleCache::load(const Entry& e) {
  if (!stamp_file(e.path)) {
    ++misses_;
    return std::nullopt;
  }
  try {
    SafetensorsFile file(e.path);
    const auto& meta = file.metadata();
    auto value = [&](const char* name) {
      auto it = meta.find(name);
      if (it == meta.end()) throw Error(std::string("no '") + name + "' metadata");
      return it->second;
    };
    if (value("omnitune_sample_cache") != std::to_string(kCacheFormat) || value("key") != e.key)
      throw Error("it holds another sample (format or key differ)");
    if (overwrite_ && value("run") != run_) {  // left by an earlier run: rebuild
      ++misses_;
      return std::nullopt;
    }
    std::vector<std::pair<std::string, std::pair<std::string, std::span<const uint8_t>>>> parts;
    for (const auto& t : file.tensors())
      parts.push_back({t.name, {layout(dtype_name(t.dtype), t.shape), file.bytes(t)}});
    std::sort(parts.begin(), parts.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    Sample s = read_sample(file);
    if (value("checksum") != hex64(checksum(parts, s.text, value("use_audio_in_video"))))
      throw Error("checksum mismatch");
    ++hits_;
    return s;
  } catch (const std::exception& error) {
    log_warn(cat("sample cache: ", e.path, " is unreadable (", error.what(), "); rebuilding it"));
    ++corrupt_;
    ++misses_;
    return std::nullopt;
  }
}

void SampleCache::store(const Entry& e, const Sample& sample) {
  try {
    NamedTensors tensors = sample_tensors(sample);
    std::map<std::string, std::string> meta = sample_metadata(sample);
    std::vector<std::pair<std::string, std::pair<std::string, std::span<const uint8_t>>>> parts;
    for (auto& [name, t] : tensors) {
      t = t.contiguous();
      std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
      parts.push_back({name,
                       {layout(dtype_name(to_dtype(t.scalar_type(), name)), shape),
                        {static_cast<const uint8_t*>(t.data_ptr()), t.nbytes()}}});
    }
    std::sort(parts.begin(), parts.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    meta["checksum"] = hex64(checksum(parts, meta["text"], meta["use_audio_in_video"]));
    meta["key"] = e.key;
    meta["run"] = run_;
    meta["omnitune_sample_cache"] = std::to_string(kCacheFormat);
    std::filesystem::create_directories(std::filesystem::path(e.path).parent_path());
    save_tensors(e.path, tensors, meta);
  } catch (const std::exception& error) {
    log_warn(cat("sample cache: cannot write ", e.path, ": ", error.what()));
    ++write_failures_;
  }
}

CacheCounters SampleCache::counters() const {
  return {hits_.load(), misses_.load(), corrupt_.load(), write_failures_.load()};
}

}  // namespace omnitune
