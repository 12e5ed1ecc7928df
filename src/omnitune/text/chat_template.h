// text/chat_template: ChatML rendering of a conversation for training, as the seed's `qwen3_omni` and
// `qwen3_omni_nothink` templates do it: each (prompt, response) turn as pieces of text that are
// tokenized one by one (special tokens are atomic), the response being what the model is trained on.
#pragma once

#include <string>
#include <vector>

namespace omnitune {

// function = a `tool_call` turn (encoded like an assistant turn, trained); observation = a
// `tool_response` turn (a user turn wrapped in <tool_response>, prompt side).
enum class Role { kUser, kAssistant, kObservation, kFunction };

struct Message {
  Role role;
  std::string content;
};

struct Conversation {
  std::string system;              // may be empty
  std::vector<std::string> tools;  // JSON objects as text (function schemas); may be empty
  std::vector<Message> messages;   // user/observation and assistant/function alternate, starting with a prompt
};

enum class TemplateKind { kQwen3Omni, kQwen3OmniNothink };
TemplateKind parse_template(const std::string& name, const std::string& where);  // qwen3_omni | qwen3_omni_nothink

struct TemplateOptions {
  TemplateKind kind = TemplateKind::kQwen3Omni;
  // qwen3_omni adds an empty think block before answers without one: on the prompt side (not trained)
  // by default; trained when this is true (the seed's behaviour, needed to reproduce its losses).
  bool train_on_empty_think = false;
};

struct RenderedTurn {
  std::vector<std::string> prompt;    // pieces, tokenized separately and concatenated
  std::vector<std::string> response;  // trained pieces
};

inline constexpr const char* kEmptyThink = "<think>\n\n</think>\n\n";

// Throws Error (with `where`, e.g. "data.json row 12") when roles do not alternate prompt/response.
std::vector<RenderedTurn> render_conversation(const Conversation& conversation, const TemplateOptions& options,
                                              const std::string& where);

// The tools block of the system prompt (empty string when there are no tools). Each tool is written
// as a JSON object `{"type": "function", "function": ...}` (unless it already has "type": "function"),
// with Python's json.dumps spacing and key order as given.
std::string tools_system_prompt(const std::vector<std::string>& tools, const std::string& where);

}  // namespace omnitune
