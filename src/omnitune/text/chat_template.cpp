#include "omnitune/text/chat_template.h"

#include <nlohmann/json.hpp>

#include "omnitune/core/enum_names.h"
#include "omnitune/core/error.h"
#include "omnitune/text/python_json.h"

namespace omnitune {

TemplateKind parse_template(const std::string& name, const std::string& where) {
  static const EnumNames<TemplateKind> names = {{TemplateKind::kQwen3Omni, "qwen3_omni"},
                                                {TemplateKind::kQwen3OmniNothink, "qwen3_omni_nothink"}};
  return parse_enum(names, name, where, "template");
}

std::string tools_system_prompt(const std::vector<std::string>& tools, const std::string& where) {
  if (tools.empty()) return "";
  std::string listed;
  for (size_t i = 0; i < tools.size(); ++i) {
    nlohmann::ordered_json tool;
    try {
      tool = nlohmann::ordered_json::parse(tools[i]);
    } catch (const nlohmann::json::exception& e) {
      throw Error(cat(where, ": tools[", i, "] is not valid JSON: ", e.what()));
    }
    if (!tool.is_object()) throw Error(cat(where, ": tools[", i, "] must be a JSON object"));
    if (!(tool.contains("type") && tool["type"] == "function")) tool = {{"type", "function"}, {"function", tool}};
    listed += "\n" + python_json_dumps(tool);
  }
  return "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
         "You are provided with function signatures within <tools></tools> XML tags:\n<tools>" +
         listed +
         "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
         "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
         "<args-json-object>}\n</tool_call>";
}

namespace {

bool is_prompt_role(Role r) { return r == Role::kUser || r == Role::kObservation; }

std::string prompt_text(const Message& m) {
  if (m.role == Role::kObservation)
    return "<|im_start|>user\n<tool_response>\n" + m.content + "\n</tool_response><|im_end|>\n<|im_start|>assistant\n";
  return "<|im_start|>user\n" + m.content + "<|im_end|>\n<|im_start|>assistant\n";
}

bool has_think(const std::string& s) {
  return s.find("<think>") != std::string::npos || s.find("</think>") != std::string::npos;
}

}  // namespace

std::vector<RenderedTurn> render_conversation(const Conversation& c, const TemplateOptions& options,
                                              const std::string& where) {
  if (c.messages.empty() || c.messages.size() % 2 != 0)
    throw Error(cat(where, ": a conversation needs prompt/response pairs, got ", c.messages.size(), " messages"));
  std::vector<RenderedTurn> turns;
  for (size_t i = 0; i < c.messages.size(); i += 2) {
    const Message& prompt = c.messages[i];
    const Message& response = c.messages[i + 1];
    if (!is_prompt_role(prompt.role))
      throw Error(cat(where, ": message ", i, " must be from the user or a tool response (roles must alternate)"));
    if (is_prompt_role(response.role))
      throw Error(cat(where, ": message ", i + 1, " must be from the assistant or a tool call (roles must alternate)"));
    RenderedTurn turn;
    if (i == 0) {
      std::string system = c.system + tools_system_prompt(c.tools, where);
      if (!system.empty()) turn.prompt.push_back("<|im_start|>system\n" + system + "<|im_end|>\n");
    }
    turn.prompt.push_back(prompt_text(prompt));
    if (options.kind == TemplateKind::kQwen3Omni && !has_think(response.content))
      (options.train_on_empty_think ? turn.response : turn.prompt).push_back(kEmptyThink);
    turn.response.push_back(response.content + "<|im_end|>\n");
    turns.push_back(std::move(turn));
  }
  return turns;
}

}  // namespace omnitune
