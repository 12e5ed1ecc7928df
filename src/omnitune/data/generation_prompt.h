// data/generation_prompt: what `omnitune generate` is asked, as a dataset row: one user prompt, or a
// messages file (one row of the multimodal_tool format: {"messages": [{"role", "content"}...], "tools",
// "images", "videos", "audios"}, or just the list of messages), plus the media given as flags.
#pragma once

#include <string>
#include <vector>

#include "omnitune/data/row_reader.h"

namespace omnitune {

struct PromptMedia {
  std::vector<std::string> images, videos, audios;  // files, in placeholder order
};

// `text` as the user's message. A kind of media given without any placeholder in the text gets one
// placeholder a file, placed before the text (images, then videos, then audios); otherwise the
// placeholders must match the files, as in a dataset row.
RowSample prompt_row(const std::string& text, const PromptMedia& media);

// The conversation of a messages file, which must end with a user (or tool_response) message. Media paths in
// the file are relative to its directory; `media` files come after the file's own. Errors name the file.
RowSample messages_row(const std::string& path, const PromptMedia& media);

}  // namespace omnitune
