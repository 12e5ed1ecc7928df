// data/row_reader: one dataset row (JSON object) -> a Conversation plus its media files, for every
// row format of the seed (sharegpt with the attr role/content tags, multimodal_tool, alpaca, openai).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omnitune/data/data_config.h"
#include "omnitune/text/chat_template.h"

namespace omnitune {

struct RowSample {
  Conversation conversation;
  std::vector<std::string> images, videos, audios;  // resolved paths, in placeholder order
};

// `where` names the row in errors ("data/x.json row 12"). Checks roles and that the number of
// <image>/<video>/<audio> placeholders equals the number of files of each kind.
RowSample read_row(const nlohmann::json& row, const DataConfig& config, const std::string& where);

// Occurrences of `placeholder` in all messages of the conversation.
int64_t count_placeholders(const Conversation& conversation, const std::string& placeholder);

}  // namespace omnitune
