#include "omnitune/text/bpe.h"

#include <algorithm>
#include <climits>
#include <queue>
#include <unordered_set>

#include "omnitune/core/error.h"
#include "omnitune/text/byte_level.h"

namespace omnitune {

namespace {

constexpr size_t kShortWord = 64;  // longer words use the priority queue

std::string json_type(const nlohmann::json& j) { return j.type_name(); }

}  // namespace

void BpeModel::MergeTable::build(const std::vector<std::pair<uint64_t, Merge>>& entries) {
  size_t capacity = 16;
  shift = 60;
  while (capacity < entries.size() * 2) capacity *= 2, --shift;
  keys.assign(capacity, ~uint64_t{0});
  values.assign(capacity, Merge{INT_MAX, -1});
  mask = capacity - 1;
  for (const auto& [key, merge] : entries) {
    uint64_t slot = (key * 0x9E3779B97F4A7C15ull) >> shift;
    while (keys[slot] != ~uint64_t{0} && keys[slot] != key) slot = (slot + 1) & mask;
    keys[slot] = key;
    values[slot] = merge;  // a repeated pair keeps its last rank
  }
}

const BpeModel::Merge* BpeModel::MergeTable::find(uint64_t key) const {
  uint64_t slot = (key * 0x9E3779B97F4A7C15ull) >> shift;
  while (true) {
    const uint64_t k = keys[slot];
    if (k == key) return &values[slot];
    if (k == ~uint64_t{0}) return nullptr;
    slot = (slot + 1) & mask;
  }
}

BpeModel::BpeModel(const nlohmann::json& model, const std::string& where) {
  if (!model.is_object()) throw Error(cat(where, ": \"model\" must be an object"));
  const std::string type = model.value("type", std::string("BPE"));
  if (type != "BPE") throw Error(cat(where, ": model type '", type, "' is not supported (only BPE)"));
  auto require_empty = [&](const char* key) {
    if (model.contains(key) && !model[key].is_null() && model[key] != "")
      throw Error(cat(where, ": model.", key, " = ", model[key].dump(), " is not supported"));
  };
  require_empty("continuing_subword_prefix");
  require_empty("end_of_word_suffix");
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0.0)
    throw Error(cat(where, ": model.dropout = ", model["dropout"].dump(), " is not supported"));
  if (model.value("byte_fallback", false)) throw Error(cat(where, ": model.byte_fallback = true is not supported"));
  ignore_merges_ = model.value("ignore_merges", false);

  if (!model.contains("vocab") || !model["vocab"].is_object())
    throw Error(cat(where, ": model.vocab must be an object of token -> id"));
  const auto& vocab = model["vocab"];
  vocab_.reserve(vocab.size());
  int64_t max = -1;
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      throw Error(cat(where, ": model.vocab[\"", token, "\"] must be a non-negative integer id"));
    vocab_[token] = static_cast<int32_t>(id.get<int64_t>());
    max = std::max(max, id.get<int64_t>());
  }
  id_to_token_.assign(static_cast<size_t>(max + 1), std::string());
  has_id_.assign(static_cast<size_t>(max + 1), false);
  for (const auto& [token, id] : vocab_) {
    if (has_id_[id]) throw Error(cat(where, ": model.vocab gives id ", id, " to two tokens"));
    id_to_token_[id] = token, has_id_[id] = true;
  }

  const std::string unk =
      model.contains("unk_token") && model["unk_token"].is_string() ? model["unk_token"].get<std::string>() : "";
  for (int b = 0; b < 256; ++b) {
    std::string symbol;
    append_utf8(symbol, byte_to_code_point(static_cast<uint8_t>(b)));
    auto it = vocab_.find(symbol);
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
    if (byte_ids_[b] < 0 && !unk.empty())
      throw Error(cat(where, ": the vocabulary lacks the symbol of byte ", b, " and unk_token is not supported"));
  }

  if (!model.contains("merges") || !model["merges"].is_array())
    throw Error(cat(where, ": model.merges must be an array"));
  const auto& merges = model["merges"];
  std::vector<std::pair<uint64_t, Merge>> entries;
  entries.reserve(merges.size());
  std::unordered_set<int32_t> results;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& m = merges[rank];
    std::string left, right;
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>(), right = m[1].get<std::string>();
    } else if (m.is_string() &&
               std::count(m.get_ref<const std::string&>().begin(), m.get_ref<const std::string&>().end(), ' ') == 1) {
      const std::string& s = m.get_ref<const std::string&>();
      left = s.substr(0, s.find(' ')), right = s.substr(s.find(' ') + 1);
    } else {
      throw Error(
          cat(where, ": model.merges[", rank, "] must be a pair of strings, not ", json_type(m), " ", m.dump()));
    }
    auto l = vocab_.find(left), r = vocab_.find(right), result = vocab_.find(left + right);
    if (l == vocab_.end() || r == vocab_.end() || result == vocab_.end())
      throw Error(cat(where, ": model.merges[", rank, "] (\"", left, "\", \"", right, "\"): \"",
                      l == vocab_.end()   ? left
                      : r == vocab_.end() ? right
                                          : left + right,
                      "\" is not in the vocabulary"));
    entries.push_back({pair_key(l->second, r->second), Merge{static_cast<int32_t>(rank), result->second}});
    if (!results.insert(result->second).second) unique_results_ = false;
  }
  merges_.build(entries);
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_id_[id]) return nullptr;
  return &id_to_token_[id];
}

// Lowest rank first, leftmost among equals; each pair's rank is kept and only the two pairs next to
// a merge are looked up again.
void BpeModel::merge_short(std::vector<int32_t>& symbols) const {
  size_t n = symbols.size();
  int32_t* s = symbols.data();
  int32_t rank[kShortWord], result[kShortWord];
  auto lookup = [&](size_t i) {
    const Merge* m = find_merge(s[i], s[i + 1]);
    rank[i] = m ? m->rank : INT_MAX;
    result[i] = m ? m->result : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) lookup(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i)
      if (rank[i] < rank[best]) best = i;
    if (rank[best] == INT_MAX) break;
    s[best] = result[best];
    for (size_t i = best + 1; i + 1 < n; ++i) s[i] = s[i + 1], rank[i] = rank[i + 1], result[i] = result[i + 1];
    --n;
    if (best > 0) lookup(best - 1);
    if (best + 1 < n) lookup(best);
  }
  symbols.resize(n);
}

// The priority-queue loop of Hugging Face's BPE (entries go stale as neighbours merge; an entry is
// applied when its pair still makes the same token).
void BpeModel::merge_long(std::vector<int32_t>& symbols) const {
  const int32_t n = static_cast<int32_t>(symbols.size());
  struct Node {
    int32_t id, prev, next;
    bool alive;
  };
  struct Candidate {
    int32_t rank, pos, result;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Node> nodes(n);
  for (int32_t i = 0; i < n; ++i) nodes[i] = {symbols[i], i - 1, i + 1 < n ? i + 1 : -1, true};
  std::vector<Candidate> heap_storage;
  heap_storage.reserve(n);
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue(std::greater<>{},
                                                                               std::move(heap_storage));
  for (int32_t i = 0; i + 1 < n; ++i)
    if (const Merge* m = find_merge(nodes[i].id, nodes[i + 1].id)) queue.push({m->rank, i, m->result});
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Node& node = nodes[top.pos];
    if (!node.alive || node.next < 0) continue;
    const Merge* now = find_merge(node.id, nodes[node.next].id);
    if (!now || now->result != top.result) continue;
    Node& right = nodes[node.next];
    node.id = top.result;
    right.alive = false;
    node.next = right.next;
    if (node.next >= 0) nodes[node.next].prev = top.pos;
    if (node.prev >= 0)
      if (const Merge* m = find_merge(nodes[node.prev].id, node.id)) queue.push({m->rank, node.prev, m->result});
    if (node.next >= 0)
      if (const Merge* m = find_merge(node.id, nodes[node.next].id)) queue.push({m->rank, top.pos, m->result});
  }
  symbols.clear();
  for (const Node& node : nodes)
    if (node.alive) symbols.push_back(node.id);
}

void BpeModel::encode_word(std::string_view bytes, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    auto it = vocab_.find(bytes_to_symbols(bytes));
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<int32_t> symbols;
  symbols.reserve(bytes.size());
  for (char c : bytes)
    if (const int32_t id = byte_ids_[static_cast<uint8_t>(c)]; id >= 0) symbols.push_back(id);
  if (symbols.size() > 1) {
    if (unique_results_ && symbols.size() <= kShortWord)
      merge_short(symbols);
    else
      merge_long(symbols);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
}

}  // namespace omnitune
