// data/loader: micro-batches built ahead of the trainer by worker threads. The sampler decides the
// order; workers decode and build samples in parallel, a bounded window of batches is prepared
// ahead, and batches come out in sampler order whatever thread finished first (deterministic).
// Bad rows and over-long samples either stop the run with their error or are skipped and counted,
// as on_bad_sample / on_overlong say.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "omnitune/data/collate.h"
#include "omnitune/data/dataset.h"
#include "omnitune/data/sample_builder.h"
#include "omnitune/data/sampler.h"

namespace omnitune {

struct LoaderCounters {
  int64_t samples = 0, skipped_bad = 0, skipped_overlong = 0;
};

class Loader {
 public:
  // workers = 0 builds samples on the calling thread. `ahead` = micro-batches prepared in advance.
  Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const SampleBuilder> builder, const DataConfig& config,
         const SamplerOptions& sampler, int64_t workers, int64_t ahead = 4);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  Batch next();  // blocks until the next micro-batch is ready; rethrows a worker's error
  // The sampler position after the last batch handed out: restore it to continue exactly there.
  SamplerState state() const;
  void restore(const SamplerState& state);  // only before the first next()
  LoaderCounters counters() const;

 private:
  struct Job {
    int64_t sequence;
    std::vector<int64_t> rows;
    SamplerState after;  // sampler state once this batch is taken
  };
  struct Done {
    std::vector<Sample> samples;
    SamplerState after;
    std::exception_ptr error;
  };
  void start();
  void work();
  Done build(const Job& job);
  Job take_job();  // caller holds mutex_

  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const SampleBuilder> builder_;
  DataConfig config_;
  Sampler sampler_;
  int64_t workers_, ahead_;
  int64_t pad_id_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;              // jobs not yet picked by a worker
  std::map<int64_t, Done> finished_;   // by sequence
  int64_t next_sequence_ = 0, next_to_hand_out_ = 0;
  SamplerState handed_out_state_;
  LoaderCounters counters_;
  bool stopping_ = false, started_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace omnitune
