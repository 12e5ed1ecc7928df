#include "omnitune/data/row_reader.h"

#include "omnitune/core/closest_match.h"
#include "omnitune/core/error.h"
#include "omnitune/data/media_path.h"

namespace omnitune {

namespace {

const nlohmann::json* field(const nlohmann::json& row, const std::string& key) {
  if (key.empty() || !row.is_object()) return nullptr;
  auto it = row.find(key);
  return it == row.end() || it->is_null() ? nullptr : &*it;
}

std::string text_of(const nlohmann::json& v, const std::string& where) {
  if (!v.is_string()) throw Error(where + ": expected text, got " + v.dump().substr(0, 60));
  return v.get<std::string>();
}

// A media column: one path or a list of paths (absent, null or empty = none).
std::vector<std::string> media_column(const nlohmann::json& row, const std::string& key, const std::string& dir,
                                      const std::string& where) {
  std::vector<std::string> out;
  const nlohmann::json* v = field(row, key);
  if (!v) return out;
  if (v->is_string()) {
    if (!v->get<std::string>().empty()) out.push_back(resolve_media_path(dir, v->get<std::string>()));
    return out;
  }
  if (!v->is_array()) throw Error(where + ": column '" + key + "' must be a path or a list of paths");
  for (size_t i = 0; i < v->size(); ++i)
    out.push_back(resolve_media_path(dir, text_of((*v)[i], cat(where, ": ", key, "[", i, "]"))));
  return out;
}

Conversation sharegpt(const nlohmann::json& row, const Attributes& a, const std::string& where) {
  const nlohmann::json* list = field(row, a.messages);
  if (!list || !list->is_array()) throw Error(where + ": missing the '" + a.messages + "' list of messages");
  Conversation c;
  std::vector<std::string> tags;
  for (const auto& t : {a.user_tag, a.assistant_tag, a.observation_tag, a.function_tag, a.system_tag})
    if (!t.empty()) tags.push_back(t);
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = cat(where, ": ", a.messages, "[", i, "]");
    const nlohmann::json& m = (*list)[i];
    const nlohmann::json* role = field(m, a.role_tag);
    const nlohmann::json* content = field(m, a.content_tag);
    if (!role || !content) throw Error(at + ": needs '" + a.role_tag + "' and '" + a.content_tag + "'");
    std::string r = text_of(*role, at + "." + a.role_tag), text = text_of(*content, at + "." + a.content_tag);
    if (i == 0 && !a.system_tag.empty() && r == a.system_tag) {
      c.system = text;
      continue;
    }
    Role role_kind;
    if (r == a.user_tag)
      role_kind = Role::kUser;
    else if (r == a.assistant_tag)
      role_kind = Role::kAssistant;
    else if (!a.observation_tag.empty() && r == a.observation_tag)
      role_kind = Role::kObservation;
    else if (!a.function_tag.empty() && r == a.function_tag)
      role_kind = Role::kFunction;
    else
      throw Error(at + ": unknown role '" + r + "'" + did_you_mean(r, tags));
    c.messages.push_back({role_kind, text});
  }
  return c;
}

Conversation multimodal_tool(const nlohmann::json& row, const Attributes& a, const std::string& where) {
  Attributes literal = a;
  literal.role_tag = "role", literal.content_tag = "content", literal.user_tag = "user",
  literal.assistant_tag = "assistant";
  literal.observation_tag = "tool_response", literal.function_tag = "tool_call", literal.system_tag = "system";
  Conversation c = sharegpt(row, literal, where);
  if (const nlohmann::json* tools = field(row, "tools")) {
    nlohmann::json list = *tools;
    if (list.is_string()) {  // a JSON list serialised as one string
      try {
        list = nlohmann::json::parse(list.get<std::string>());
      } catch (const nlohmann::json::exception&) {
        throw Error(where + ": 'tools' must be a list of JSON strings");
      }
    }
    if (!list.is_array()) throw Error(where + ": 'tools' must be a list of JSON strings");
    for (size_t i = 0; i < list.size(); ++i)
      c.tools.push_back(list[i].is_string() ? list[i].get<std::string>() : list[i].dump());
  }
  return c;
}

Conversation alpaca(const nlohmann::json& row, const Attributes& a, const std::string& where) {
  Conversation c;
  if (const nlohmann::json* history = field(row, a.history)) {
    if (!history->is_array()) throw Error(where + ": '" + a.history + "' must be a list of [query, response] pairs");
    for (size_t i = 0; i < history->size(); ++i) {
      const nlohmann::json& pair = (*history)[i];
      if (!pair.is_array() || pair.size() != 2)
        throw Error(cat(where, ": ", a.history, "[", i, "] must be [query, response]"));
      c.messages.push_back({Role::kUser, text_of(pair[0], where)});
      c.messages.push_back({Role::kAssistant, text_of(pair[1], where)});
    }
  }
  std::string prompt;
  if (const nlohmann::json* p = field(row, a.prompt)) prompt = text_of(*p, where + ": " + a.prompt);
  if (const nlohmann::json* q = field(row, a.query)) {
    std::string query = text_of(*q, where + ": " + a.query);
    if (!query.empty()) prompt += (prompt.empty() ? "" : "\n") + query;
  }
  const nlohmann::json* response = field(row, a.response);
  if (prompt.empty() || !response)
    throw Error(where + ": alpaca rows need '" + a.prompt + "' and '" + a.response + "'");
  c.messages.push_back({Role::kUser, prompt});
  c.messages.push_back({Role::kAssistant, text_of(*response, where + ": " + a.response)});
  return c;
}

Conversation openai(const nlohmann::json& row, const Attributes& a, const std::string& where) {
  const nlohmann::json* list = field(row, a.messages);
  if (!list || !list->is_array()) throw Error(where + ": missing the '" + a.messages + "' list of messages");
  Conversation c;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = cat(where, ": ", a.messages, "[", i, "]");
    const nlohmann::json& m = (*list)[i];
    std::string role = m.is_object() && m.contains("role") ? text_of(m["role"], at + ".role") : "";
    std::string content = field(m, "content") ? text_of(m["content"], at + ".content") : "";
    if (role == "system" && i == 0) {
      c.system = content;
    } else if (role == "user") {
      c.messages.push_back({Role::kUser, content});
    } else if (role == "tool") {  // consecutive tool results form one observation
      if (!c.messages.empty() && c.messages.back().role == Role::kObservation)
        c.messages.back().content += "\n" + content;
      else
        c.messages.push_back({Role::kObservation, content});
    } else if (role == "assistant") {
      std::string text = content;
      if (const nlohmann::json* reasoning = field(m, "reasoning_content"))
        text = "<think>\n" + text_of(*reasoning, at + ".reasoning_content") + "\n</think>\n\n" + text;
      Role kind = Role::kAssistant;
      if (const nlohmann::json* calls = field(m, "tool_calls")) {
        for (const auto& call : *calls) {
          const nlohmann::json& f = call.contains("function") ? call["function"] : call;
          nlohmann::json args = f.value("arguments", nlohmann::json::object());
          if (args.is_string()) args = nlohmann::json::parse(args.get<std::string>(), nullptr, false);
          text += (text.empty() ? "" : "\n") + std::string("<tool_call>\n") +
                  nlohmann::json({{"name", f.value("name", "")}, {"arguments", args}}).dump() + "\n</tool_call>";
        }
        kind = Role::kFunction;
      }
      c.messages.push_back({kind, text});
    } else {
      throw Error(at + ": unknown role '" + role + "'" + did_you_mean(role, {"system", "user", "assistant", "tool"}));
    }
  }
  return c;
}

}  // namespace

int64_t count_placeholders(const Conversation& c, const std::string& placeholder) {
  int64_t n = 0;
  for (const auto& m : c.messages)
    for (size_t pos = m.content.find(placeholder); pos != std::string::npos; pos = m.content.find(placeholder, pos + 1))
      ++n;
  return n;
}

RowSample read_row(const nlohmann::json& row, const DataConfig& config, const std::string& where) {
  if (!row.is_object()) throw Error(where + ": a row must be a JSON object");
  const Attributes& a = config.attr;
  RowSample s;
  switch (a.formatting) {
    case RowFormat::kSharegpt: s.conversation = sharegpt(row, a, where); break;
    case RowFormat::kMultimodalTool: s.conversation = multimodal_tool(row, a, where); break;
    case RowFormat::kAlpaca: s.conversation = alpaca(row, a, where); break;
    case RowFormat::kOpenai: s.conversation = openai(row, a, where); break;
  }
  if (const nlohmann::json* system = field(row, a.system); system && s.conversation.system.empty())
    s.conversation.system = text_of(*system, where + ": " + a.system);
  const std::string& dir = config.basic.dataset_dir;
  s.images = media_column(row, a.images, dir, where);
  s.videos = media_column(row, a.videos, dir, where);
  s.audios = media_column(row, a.audios, dir, where);
  auto check = [&](const char* placeholder, size_t files, const char* kind) {
    int64_t n = count_placeholders(s.conversation, placeholder);
    if (n != static_cast<int64_t>(files))
      throw Error(cat(where, ": ", n, " ", placeholder, " placeholder(s) but ", files, " ", kind, " file(s)"));
  };
  check("<image>", s.images.size(), "image");
  check("<video>", s.videos.size(), "video");
  check("<audio>", s.audios.size(), "audio");
  return s;
}

}  // namespace omnitune
