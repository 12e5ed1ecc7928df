// data/token_budget: the seed's cutoff_len rule (LLaMA-Factory's) over the tokenized turns of one sample:
// turns are taken in order (reversed with mask_history), each (prompt, response) pair gets its share of
// what is left by infer_seqlen, the rest of a turn is cut, and turns after the budget is spent are
// dropped. A cut never goes through a media block (an OverlongError instead); labels cover the responses
// (and the prompts with train_on_prompt, all but the last turn's masked with mask_history), never media.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "omnitune/core/error.h"
#include "omnitune/data/data_config.h"

namespace omnitune {

// A sample that does not fit cutoff_len without cutting a media block (skippable by on_overlong).
class OverlongError : public Error {
 public:
  using Error::Error;
};

// The seed's budget split of one (prompt, response) pair under `cutoff` remaining tokens.
std::pair<int64_t, int64_t> infer_seqlen(int64_t source_len, int64_t target_len, int64_t cutoff);

struct TurnTokens {
  std::vector<int64_t> prompt, response;
};

struct BudgetedTokens {
  std::vector<int64_t> input_ids, labels;  // labels: kIgnoreIndex where nothing is trained
  int64_t cut_tokens = 0;                  // text tokens the budget dropped
};

// `is_media(id)`: the tokens of media blocks (placeholders and their start/end markers). `where` names the
// row in the OverlongError.
BudgetedTokens apply_token_budget(std::vector<TurnTokens> turns, const BasicParameters& basic,
                                  const std::function<bool(int64_t)>& is_media, const std::string& where);

}  // namespace omnitune
