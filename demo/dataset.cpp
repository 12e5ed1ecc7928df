#include "dataset.h"

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "omnitune/core/error.h"
#include "omnitune/io/atomic_file.h"

namespace omnitune::demo {

namespace {

using nlohmann::ordered_json;

enum Kind { kImage, kAudio, kVideo, kText, kMultiTurn, kTool, kSystem, kKinds };

// Row files in the order data.json lists them; each kind goes to one.
const std::vector<std::string> kFiles = {"images.json", "audio.json", "video.json",
                                         "text.jsonl",  "tools.json", "mixed.json"};
const std::string& file_of(Kind kind) {
  static const std::string* files[kKinds] = {&kFiles[0], &kFiles[1], &kFiles[2], &kFiles[3],
                                             &kFiles[0], &kFiles[4], &kFiles[5]};
  return *files[kind];
}

ordered_json message(const std::string& role, const std::string& content) {
  return {{"role", role}, {"content", content}};
}

const char* count_word(size_t n) { return n == 1 ? "one" : n == 2 ? "two" : "three"; }

// A question about one media file (`column`: images, audios or videos) answered by its caption.
ordered_json caption_row(Rng& rng, const std::string& column, const std::string& file, const std::string& caption,
                         const std::vector<std::string>& questions) {
  const std::string placeholder = column == "images" ? "<image>" : column == "audios" ? "<audio>" : "<video>";
  return {{"messages", ordered_json::array(
                           {message("user", placeholder + "\n" + rng.pick(questions)), message("assistant", caption)})},
          {column, ordered_json::array({file})}};
}

ordered_json text_row(Rng& rng) {
  int a = rng.integer(2, 99), b = rng.integer(2, 99);
  const int op = rng.integer(0, 2);
  if (op == 1 && a < b) std::swap(a, b);
  static const char* words[] = {"plus", "minus", "times"};
  const int result = op == 0 ? a + b : op == 1 ? a - b : a * b;
  return {
      {"messages", ordered_json::array({message("user", cat("What is ", a, " ", words[op], " ", b, "?")),
                                        message("assistant", cat(a, " ", words[op], " ", b, " is ", result, "."))})}};
}

ordered_json multi_turn_row(const ImageItem& image) {
  const size_t n = image.shapes.size();
  const ShapeFact& first = image.shapes.front();
  return {
      {"messages", ordered_json::array(
                       {message("user", "<image>\nHow many shapes are in this picture?"),
                        message("assistant", n == 1 ? std::string("There is one shape.")
                                                    : cat("There are ", count_word(n), " shapes.")),
                        message("user", n == 1 ? "What colour is it?" : "What colour is the shape on the left?"),
                        message("assistant", "It is " + first.colour + "."), message("user", "And what shape is it?"),
                        message("assistant", "It is a " + first.kind + ".")})},
      {"images", ordered_json::array({image.file})}};
}

std::string tool_schema(const std::string& name, const std::string& description) {
  ordered_json schema = {{"name", name},
                         {"description", description},
                         {"parameters",
                          {{"type", "object"},
                           {"properties", {{"a", {{"type", "integer"}}}, {"b", {{"type", "integer"}}}}},
                           {"required", ordered_json::array({"a", "b"})}}}};
  return schema.dump();
}

ordered_json tool_row(Rng& rng) {
  const int a = rng.integer(2, 99), b = rng.integer(2, 99);
  const bool multiply = rng.integer(0, 1) == 1;
  const std::string name = multiply ? "multiply" : "add";
  const int result = multiply ? a * b : a + b;
  const std::string request = multiply ? cat("Use the calculator to multiply ", a, " by ", b, ".")
                                       : cat("Use the calculator to add ", a, " and ", b, ".");
  // The call as the model writes it: JSON with Python's json.dumps spacing inside <tool_call> tags.
  const std::string call =
      cat("<tool_call>\n{\"name\": \"", name, "\", \"arguments\": {\"a\": ", a, ", \"b\": ", b, "}}\n</tool_call>");
  return {{"messages", ordered_json::array(
                           {message("user", request), message("tool_call", call),
                            message("tool_response", cat("{\"result\": ", result, "}")),
                            message("assistant", cat(a, multiply ? " times " : " plus ", b, " is ", result, "."))})},
          {"tools", ordered_json::array(
                        {tool_schema("add", "Add two integers."), tool_schema("multiply", "Multiply two integers.")})}};
}

ordered_json system_row(const ImageItem& image, const AudioItem& audio) {
  return {{"messages", ordered_json::array({message("system", "You describe pictures and sounds, one sentence each."),
                                            message("user", "<image>\n<audio>\nDescribe the picture, then the sound."),
                                            message("assistant", image.caption + " " + audio.caption)})},
          {"images", ordered_json::array({image.file})},
          {"audios", ordered_json::array({audio.file})}};
}

ordered_json make_row(Rng& rng, const MediaSet& media, Kind kind) {
  switch (kind) {
    case kImage: {
      const ImageItem& image = rng.pick(media.images);
      return caption_row(
          rng, "images", image.file, image.caption,
          {"Describe this picture.", "What do you see in this image?", "What shapes are in the picture?"});
    }
    case kAudio: {
      const AudioItem& audio = rng.pick(media.audios);
      return caption_row(rng, "audios", audio.file, audio.caption,
                         {"Describe this sound.", "What do you hear?", "Describe the voice in this recording."});
    }
    case kVideo: {
      const VideoItem& video = rng.pick(media.videos);
      return caption_row(rng, "videos", video.file, video.caption,
                         {"What happens in this video?", "Describe the video and its sound."});
    }
    case kText: return text_row(rng);
    case kMultiTurn: return multi_turn_row(rng.pick(media.images));
    case kTool: return tool_row(rng);
    case kSystem: {
      const ImageItem& image = rng.pick(media.images);
      return system_row(image, rng.pick(media.audios));
    }
    case kKinds: break;
  }
  throw Error("unknown row kind");
}

// The path made absolute, without a trailing separator.
std::string absolute(const std::string& path) {
  std::filesystem::path p = std::filesystem::absolute(path).lexically_normal();
  return (p.has_filename() ? p : p.parent_path()).string();
}

}  // namespace

DatasetSummary write_dataset(Rng& rng, const MediaSet& media, const std::string& dir, const std::string& tokenizer_dir,
                             int64_t rows, int64_t val_rows) {
  std::map<std::string, ordered_json> by_file;
  for (int64_t i = 0; i < rows; ++i) {
    const Kind kind = static_cast<Kind>(i % kKinds);
    by_file[file_of(kind)].push_back(make_row(rng, media, kind));
  }
  const std::string root = absolute(dir);
  std::string list;
  DatasetSummary summary{root + "/data.json", rows, 0};
  for (const std::string& name : kFiles) {
    auto it = by_file.find(name);
    if (it == by_file.end()) continue;
    const std::string path = root + "/" + name;
    std::string text;
    if (name.ends_with(".jsonl"))
      for (const auto& row : it->second) text += row.dump() + "\n";
    else
      text = it->second.dump(2) + "\n";
    write_file_atomic(path, text);
    list += (list.empty() ? "" : ",") + path;
    ++summary.files;
  }
  ordered_json config = {
      {"dataset_param",
       {{"dataset_type", "huggingface"},
        {"preprocess_parameters",
         {{"model_name_or_path", absolute(tokenizer_dir)},
          {"use_audio_in_video", true},
          {"image_max_pixels", 64 * 32 * 32},  // at most 64 tokens per image (one token per 32x32 pixels)
          {"image_min_pixels", 4 * 32 * 32},
          {"video_max_pixels", 9 * 32 * 32},  // 9 tokens per pair of frames
          {"video_min_pixels", 256},
          {"video_fps", 2.0},
          {"video_maxlen", 16},
          {"audio_sampling_rate", 16000}}},
        {"basic_parameters",
         {{"template", "qwen3_omni"},
          {"dataset_dir", root},
          {"dataset", list},
          {"cutoff_len", 1024},
          {"train_on_prompt", false},
          {"mask_history", false}}},
        {"attr",
         {{"formatting", "multimodal_tool"},
          {"messages", "messages"},
          {"images", "images"},
          {"videos", "videos"},
          {"audios", "audios"}}}}},
      {"dataloader_param", {{"shuffle", true}, {"drop_last", true}}}};
  if (val_rows > 0) config["dataset_param"]["basic_parameters"]["val_rate"] = val_rows;
  write_file_atomic(summary.data_json, config.dump(4) + "\n");
  return summary;
}

}  // namespace omnitune::demo
