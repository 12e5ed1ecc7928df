#define PCRE2_CODE_UNIT_WIDTH 8
#include "omnitune/text/regex_split.h"

#include <pcre2.h>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof(buffer)) < 0) return cat("PCRE2 error ", code);
  return reinterpret_cast<const char*>(buffer);
}

// Per-thread match state: JIT matching uses its own stack, which one thread at a time may use.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
  MatchState() {
    if (!data || !context || !stack) throw Error("PCRE2: out of memory for match data");
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

size_t code_point_length(uint8_t lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

}  // namespace

RegexSplitter::RegexSplitter(const std::string& pattern, bool literal, const std::string& where) : where_(where) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error, &offset, nullptr);
  if (!code)
    throw Error(
        cat(where, ": the pre-tokenizer pattern does not compile at offset ", offset, ": ", pcre2_message(error)));
  code_ = code;
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

RegexSplitter::~RegexSplitter() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void RegexSplitter::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& pieces) const {
  const auto* code = static_cast<const pcre2_code*>(code_);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  MatchState& state = match_state();
  size_t pos = 0, last = 0;
  while (pos < text.size()) {
    // The caller guarantees valid UTF-8: checking it on every call would make the scan quadratic.
    const int rc = jit_ ? pcre2_jit_match(code, subject, text.size(), pos, 0, state.data, state.context)
                        : pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, state.data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw Error(cat(where_, ": pre-tokenizer regex failed at byte ", pos, ": ", pcre2_message(rc)));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    const size_t begin = ovector[0], end = ovector[1];
    if (end <= begin) {  // an empty match splits nothing; try again one character further
      if (begin >= text.size()) break;
      pos = begin + code_point_length(static_cast<uint8_t>(text[begin]));
      continue;
    }
    if (begin > last) pieces.emplace_back(last, begin);
    pieces.emplace_back(begin, end);
    last = pos = end;
  }
  if (last < text.size()) pieces.emplace_back(last, text.size());
}

}  // namespace omnitune
