#include "omnitune/data/generation_prompt.h"

#include <filesystem>

#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"

namespace omnitune {

namespace {

DataConfig messages_format(const std::string& dir) {
  DataConfig config;
  config.attr.formatting = RowFormat::kMultimodalTool;
  config.attr.messages = "messages";
  config.attr.images = "images", config.attr.videos = "videos", config.attr.audios = "audios";
  config.basic.dataset_dir = dir;
  return config;
}

void check_ends_with_prompt(const Conversation& c, const std::string& where) {
  if (c.messages.empty() || (c.messages.back().role != Role::kUser && c.messages.back().role != Role::kObservation))
    throw Error(where + ": the last message must be the user's (or a tool_response): the answer is what is generated");
}

}  // namespace

RowSample prompt_row(const std::string& text, const PromptMedia& media) {
  std::string content;
  const std::pair<const char*, const std::vector<std::string>*> kinds[] = {
      {"<image>", &media.images}, {"<video>", &media.videos}, {"<audio>", &media.audios}};
  for (const auto& [placeholder, files] : kinds) {
    Conversation just_text{"", {}, {{Role::kUser, text}}};
    const int64_t written = count_placeholders(just_text, placeholder);
    if (written == 0) {
      for (size_t i = 0; i < files->size(); ++i) content += placeholder;
    } else if (written != static_cast<int64_t>(files->size())) {
      throw Error(cat("--prompt has ", written, " ", placeholder, " placeholder(s) but ", files->size(),
                      " such file(s) were given"));
    }
  }
  RowSample row;
  row.conversation.messages.push_back({Role::kUser, content + text});
  row.images = media.images, row.videos = media.videos, row.audios = media.audios;
  return row;
}

RowSample messages_row(const std::string& path, const PromptMedia& media) {
  nlohmann::json row = load_json_file(path);
  if (row.is_array()) row = {{"messages", row}};
  if (!row.is_object())
    throw Error(path + ": expected {\"messages\": [...]} or a list of {\"role\", \"content\"} messages");
  const auto add = [&](const char* key, const std::vector<std::string>& files) {
    if (files.empty()) return;
    nlohmann::json& list = row[key];
    if (list.is_null()) list = nlohmann::json::array();
    if (list.is_string()) list = nlohmann::json::array({list});
    if (!list.is_array()) throw Error(cat(path, ": '", key, "' must be a path or a list of paths"));
    for (const auto& f : files) list.push_back(std::filesystem::absolute(f).string());
  };
  add("images", media.images), add("videos", media.videos), add("audios", media.audios);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  RowSample sample = read_row(row, messages_format(dir.empty() ? "." : dir), path);
  check_ends_with_prompt(sample.conversation, path);
  return sample;
}

}  // namespace omnitune
