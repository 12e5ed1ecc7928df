// data/loader: micro-batches built ahead of the trainer by worker threads. The row source decides the
// order (the Sampler over the in-memory dataset, or the JSON Lines stream with `streaming: true`);
// workers parse, decode and build samples in parallel (reusing cache_dir entries when configured), a
// bounded window of batches is prepared ahead, and batches come out in source order whatever thread
// finished first (deterministic). Bad rows and over-long samples either stop the run with their error
// or are skipped and counted, as on_bad_sample / on_overlong say (the first of each kind is logged); an epoch
// in which every row is skipped is an error, not an endless loop. keep_towers_active adds fake media.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "omnitune/data/collate.h"
#include "omnitune/data/row_source.h"
#include "omnitune/data/sample_builder.h"
#include "omnitune/data/sample_cache.h"

namespace omnitune {

struct LoaderCounters {
  int64_t samples = 0, skipped_bad = 0, skipped_overlong = 0;
  int64_t cut = 0;      // samples the cutoff_len budget shortened (text only, as the seed's rule does)
  CacheCounters cache;  // all zero without cache_dir
};

class Loader {
 public:
  // Rows from `rows` (see open_rows). workers = 0 builds samples on the calling thread. `ahead` =
  // micro-batches prepared in advance.
  Loader(std::unique_ptr<RowSource> rows, std::shared_ptr<const SampleBuilder> builder, const DataConfig& config,
         int64_t workers, int64_t ahead = 4);
  // The in-memory dataset in the Sampler's order.
  Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const SampleBuilder> builder, const DataConfig& config,
         const SamplerOptions& sampler, int64_t workers, int64_t ahead = 4);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  ThinkerInputs next();  // blocks until the next micro-batch is ready; rethrows a worker's error
  // The source position after the last batch handed out: restore it to continue exactly there.
  SamplerState state() const;
  void restore(const SamplerState& state);  // only before the first next()
  LoaderCounters counters() const;

 private:
  struct Job {
    int64_t sequence;
    std::vector<SourceRow> rows;
    SamplerState after;  // source state once this batch is taken
  };
  struct Done {
    std::vector<Sample> samples;
    SamplerState after;
    std::exception_ptr error;
    int64_t skipped_bad = 0, skipped_overlong = 0;  // counted when the batch is handed out, not when built ahead
  };
  void start();
  void work();
  Done build(const Job& job);
  Sample build_row(const SourceRow& row);
  // Logs the first skipped sample of each kind only (a skipped row repeats every epoch).
  void note_skip(bool& logged, const char* kind, const std::string& why);
  void note_cut(const Sample& sample);  // logs the first shortened sample
  Job take_job();                       // caller holds mutex_

  std::unique_ptr<RowSource> rows_;
  std::shared_ptr<const SampleBuilder> builder_;
  DataConfig config_;
  std::unique_ptr<SampleCache> cache_;
  std::optional<FakeMedia> fake_;
  int64_t workers_, ahead_;
  int64_t pad_id_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int64_t, Done> finished_;  // by sequence
  int64_t next_sequence_ = 0, next_to_hand_out_ = 0;
  SamplerState handed_out_state_;
  LoaderCounters counters_;
  std::string first_skip_;  // why the first skipped row was skipped
  bool logged_bad_ = false, logged_overlong_ = false, logged_cut_ = false;
  std::optional<SamplerState> skipping_since_;  // where the current run of all-skipped micro-batches began
  bool stopping_ = false, started_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace omnitune
