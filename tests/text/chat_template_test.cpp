// Goldens for the seed's ChatML templates, written from the template definitions (not from our output).
#include "omnitune/text/chat_template.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {

namespace {
std::string join(const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += p;
  return out;
}
Conversation qa(std::vector<Message> messages, std::string system = "") {
  return {std::move(system), {}, std::move(messages)};
}
}  // namespace

TEST(ChatTemplate, NothinkSingleTurn) {
  auto turns = render_conversation(qa({{Role::kUser, "Hi<image>"}, {Role::kAssistant, "Hello."}}),
                                   {TemplateKind::kQwen3OmniNothink, false}, "row 0");
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(join(turns[0].prompt), "<|im_start|>user\nHi<image><|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(join(turns[0].response), "Hello.<|im_end|>\n");
}

TEST(ChatTemplate, SystemAndMultiTurn) {
  auto turns = render_conversation(
      qa({{Role::kUser, "a"}, {Role::kAssistant, "b"}, {Role::kUser, "c"}, {Role::kAssistant, "d"}}, "Be brief."),
      {TemplateKind::kQwen3OmniNothink, false}, "row 0");
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(join(turns[0].prompt),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(join(turns[1].prompt), "<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(join(turns[1].response), "d<|im_end|>\n");
}

TEST(ChatTemplate, EmptyThinkOnPromptSideByDefault) {
  Conversation c = qa({{Role::kUser, "q"},
                       {Role::kAssistant, "a"},
                       {Role::kUser, "q2"},
                       {Role::kAssistant, "<think>\nx\n</think>\n\na2"}});
  auto turns = render_conversation(c, {TemplateKind::kQwen3Omni, false}, "row 0");
  EXPECT_EQ(join(turns[0].prompt), "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(join(turns[0].response), "a<|im_end|>\n");
  EXPECT_EQ(join(turns[1].prompt), "<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n");  // has its own think
  EXPECT_EQ(join(turns[1].response), "<think>\nx\n</think>\n\na2<|im_end|>\n");
}

TEST(ChatTemplate, EmptyThinkTrainedLikeTheSeed) {
  auto turns =
      render_conversation(qa({{Role::kUser, "q"}, {Role::kAssistant, "a"}}), {TemplateKind::kQwen3Omni, true}, "row 0");
  EXPECT_EQ(join(turns[0].prompt), "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(join(turns[0].response), "<think>\n\n</think>\n\na<|im_end|>\n");
  EXPECT_EQ(turns[0].response.size(), 2u);  // the think block is its own piece, tokenized on its own
}

TEST(ChatTemplate, ToolCallsAndResponses) {
  Conversation c;
  c.system = "You help.";
  c.tools = {
      R"({"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}})"};
  c.messages = {
      {Role::kUser, "Weather in Paris?"},
      {Role::kFunction, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"},
      {Role::kObservation, "{\"temp\": 21}"},
      {Role::kAssistant, "21 °C."}};
  auto turns = render_conversation(c, {TemplateKind::kQwen3OmniNothink, false}, "row 3");
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(
      join(turns[0].prompt),
      "<|im_start|>system\nYou help.\n\n# Tools\n\nYou may call one or more functions to assist with the user "
      "query.\n\n"
      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
      "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather\", "
      "\"parameters\": "
      "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}\n</tools>\n\n"
      "For each function call, return a json object with function name and arguments within <tool_call></tool_call> "
      "XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
      "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(join(turns[0].response),
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n");
  EXPECT_EQ(join(turns[1].prompt),
            "<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(join(turns[1].response), "21 °C.<|im_end|>\n");
}

TEST(ChatTemplate, ToolsWithoutSystemStartWithBlankLines) {
  Conversation c;
  c.tools = {R"({"type": "function", "function": {"name": "f"}})"};
  c.messages = {{Role::kUser, "x"}, {Role::kAssistant, "y"}};
  auto turns = render_conversation(c, {TemplateKind::kQwen3OmniNothink, false}, "row 0");
  EXPECT_EQ(turns[0].prompt[0].rfind("<|im_start|>system\n\n\n# Tools\n\n", 0), 0u);
  EXPECT_NE(turns[0].prompt[0].find("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"f\"}}\n</tools>"),
            std::string::npos);
}

TEST(ChatTemplate, BadConversationsNameTheRow) {
  EXPECT_EQ(test::error_of([] {
              render_conversation(qa({{Role::kUser, "a"}}), {}, "data.json row 7");
            }),
            "data.json row 7: a conversation needs prompt/response pairs, got 1 messages");
  EXPECT_EQ(test::error_of([] {
              render_conversation(qa({{Role::kAssistant, "a"}, {Role::kUser, "b"}}), {}, "data.json row 2");
            }),
            "data.json row 2: message 0 must be from the user or a tool response (roles must alternate)");
  Conversation bad_tools = qa({{Role::kUser, "a"}, {Role::kAssistant, "b"}});
  bad_tools.tools = {"{not json"};
  EXPECT_NE(test::error_of([&] {
              render_conversation(bad_tools, {}, "t.json row 1");
            }).find("t.json row 1: tools[0] is not valid JSON"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { parse_template("qwen3_omini", "data.json"); }).find("did you mean 'qwen3_omni'"),
            std::string::npos);
}

}  // namespace omnitune
