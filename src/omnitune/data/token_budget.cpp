#include "omnitune/data/token_budget.h"

#include <algorithm>

#include "omnitune/model/thinker_inputs.h"

namespace omnitune {

std::pair<int64_t, int64_t> infer_seqlen(int64_t source_len, int64_t target_len, int64_t cutoff) {
  int64_t max_target;
  if (target_len * 2 < cutoff)
    max_target = cutoff;
  else if (source_len * 2 < cutoff)
    max_target = cutoff - source_len;
  else
    max_target = static_cast<int64_t>(static_cast<double>(cutoff) *
                                      (static_cast<double>(target_len) / static_cast<double>(source_len + target_len)));
  int64_t new_target = std::min(max_target, target_len);
  int64_t new_source = std::min(std::max<int64_t>(cutoff - new_target, 0), source_len);
  return {new_source, new_target};
}

BudgetedTokens apply_token_budget(std::vector<TurnTokens> turns, const BasicParameters& b,
                                  const std::function<bool(int64_t)>& is_media, const std::string& where) {
  BudgetedTokens out;
  auto cut = [&](std::vector<int64_t>& ids, int64_t keep) {
    if (keep >= static_cast<int64_t>(ids.size())) return;
    if (std::any_of(ids.begin() + keep, ids.end(), is_media))
      throw OverlongError(cat(where, ": the sample needs more than cutoff_len = ", b.cutoff_len,
                              " tokens and truncating it would cut through a media block"));
    out.cut_tokens += static_cast<int64_t>(ids.size()) - keep;
    ids.resize(keep);
  };
  if (b.mask_history) std::reverse(turns.begin(), turns.end());
  int64_t total = 0;
  for (size_t t = 0; t < turns.size(); ++t) {
    auto& [source, target] = turns[t];
    if (total >= b.cutoff_len) {
      for (size_t r = t; r < turns.size(); ++r) {  // dropped turns must not hold media either
        cut(turns[r].prompt, 0);
        cut(turns[r].response, 0);
      }
      break;
    }
    auto [source_len, target_len] =
        infer_seqlen(static_cast<int64_t>(source.size()), static_cast<int64_t>(target.size()), b.cutoff_len - total);
    cut(source, source_len);
    cut(target, target_len);
    total += source_len + target_len;
    std::vector<int64_t> source_labels(source.size(), kIgnoreIndex);
    if (b.train_on_prompt) source_labels = source;
    std::vector<int64_t> target_labels =
        (b.mask_history && t != 0) ? std::vector<int64_t>(target.size(), kIgnoreIndex) : target;
    std::vector<int64_t> ids = source, labels = source_labels;
    ids.insert(ids.end(), target.begin(), target.end());
    labels.insert(labels.end(), target_labels.begin(), target_labels.end());
    if (b.mask_history) {  // reversed order: prepend
      ids.insert(ids.end(), out.input_ids.begin(), out.input_ids.end());
      labels.insert(labels.end(), out.labels.begin(), out.labels.end());
      out.input_ids = std::move(ids);
      out.labels = std::move(labels);
    } else {
      out.input_ids.insert(out.input_ids.end(), ids.begin(), ids.end());
      out.labels.insert(out.labels.end(), labels.begin(), labels.end());
    }
  }
  for (auto& l : out.labels)  // media tokens are never trained, even with train_on_prompt
    if (is_media(l)) l = kIgnoreIndex;
  return out;
}

}  // namespace omnitune
