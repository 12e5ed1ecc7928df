// data/sample_cache: `cache_dir` — built samples (token ids, labels, media tensors) stored on disk and
// reused by later epochs and runs. An entry's key holds everything its sample depends on: the cache
// format, the data file (absolute path, size, modification time) and the row's index in it, every media
// file of the row (the same three), every preprocessing key of the data.json (preprocess_parameters,
// template options, cutoff_len, train_on_prompt, mask_history, audio_max_seconds, dataset_dir, attr) and
// the model directory's tokenizer.json, tokenizer_config.json and config.json (size, modification time).
// Change any of them and the entry is missed and rebuilt. Entries are written atomically (temp file +
// rename), so concurrent writers never leave a torn file; an entry whose key, structure or checksum
// does not hold up is reported with a warning naming it and rebuilt. overwrite_cache: true ignores the
// entries earlier runs left: each is rebuilt once, then reused for the rest of the run.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "omnitune/data/data_config.h"
#include "omnitune/data/row_origin.h"
#include "omnitune/data/row_reader.h"
#include "omnitune/data/sample.h"

namespace omnitune {

struct CacheCounters {
  int64_t hits = 0, misses = 0;
  int64_t corrupt = 0;         // entries found unreadable and rebuilt (also counted as misses)
  int64_t write_failures = 0;  // entries that could not be written (disk full, ...): warned, training goes on
};

class SampleCache {
 public:
  explicit SampleCache(const DataConfig& config);  // creates cache_dir; Error when it cannot

  struct Entry {
    std::string key;   // canonical JSON of everything the sample depends on
    std::string path;  // <cache_dir>/<2 hex>/<32 hex>.safetensors
  };
  // nullopt when a file of the row cannot be stat'ed (building the sample then reports it).
  std::optional<Entry> entry(const RowOrigin& origin, const RowSample& row) const;
  std::optional<Sample> load(const Entry& entry);  // nullopt = miss (absent, stale or corrupt)
  void store(const Entry& entry, const Sample& sample);
  CacheCounters counters() const;

 private:
  std::string dir_, fingerprint_, run_;
  bool overwrite_;
  std::atomic<int64_t> hits_{0}, misses_{0}, corrupt_{0}, write_failures_{0};
};

}  // namespace omnitune
