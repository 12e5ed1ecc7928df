#include "omnitune/data/loader.h"

#include <utility>

#include "omnitune/core/log.h"

namespace omnitune {

Loader::Loader(std::unique_ptr<RowSource> rows, std::shared_ptr<const SampleBuilder> builder, const DataConfig& config,
               int64_t workers, int64_t ahead)
    : rows_(std::move(rows)),
      builder_(std::move(builder)),
      config_(config),
      workers_(workers),
      ahead_(std::max<int64_t>(1, ahead)) {
  pad_id_ = *builder_->tokenizer().token_to_id("<|endoftext|>");
  if (!config_.basic.cache_dir.empty()) cache_ = std::make_unique<SampleCache>(config_);
  if (config_.loader.keep_towers_active) fake_ = make_fake_media(*builder_);
  handed_out_state_ = rows_->state();
}

Loader::Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const SampleBuilder> builder,
               const DataConfig& config, const SamplerOptions& sampler, int64_t workers, int64_t ahead)
    : Loader(std::make_unique<IndexedRows>(std::move(dataset), sampler), std::move(builder), config, workers, ahead) {}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

void Loader::restore(const SamplerState& state) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (started_) throw Error("the loader's position can only be restored before the first batch");
  rows_->restore(state);
  handed_out_state_ = state;
}

SamplerState Loader::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return handed_out_state_;
}

LoaderCounters Loader::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  LoaderCounters out = counters_;
  if (cache_) out.cache = cache_->counters();
  return out;
}

Loader::Job Loader::take_job() {
  std::vector<SourceRow> rows = rows_->next();  // first: a throwing source uses no sequence number
  return {next_sequence_++, std::move(rows), rows_->state()};
}

Sample Loader::build_row(const SourceRow& source) {
  const std::string where = source.origin.where();
  nlohmann::json parsed;
  RowSample row = read_row(parse_row(source, parsed), config_, where);
  std::optional<SampleCache::Entry> entry;
  if (cache_ && (entry = cache_->entry(source.origin, row))) {
    if (std::optional<Sample> hit = cache_->load(*entry)) {
      hit->source = where;
      return std::move(*hit);
    }
  }
  Sample sample = builder_->build(row, where);
  sample.source = where;
  if (entry) cache_->store(*entry, sample);
  return sample;
}

void Loader::note_skip(bool& logged, const char* kind, const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (first_skip_.empty()) first_skip_ = why;
  if (logged) return;
  logged = true;  // the first of its kind in full; the rest are counted (and reported at the end)
  log_warn(cat("skipping ", kind, " sample: ", why, " (further ", kind, " samples are skipped and counted)"));
}

void Loader::note_cut(const Sample& sample) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!std::exchange(logged_cut_, true))
    log_warn(cat(sample.source, ": longer than cutoff_len = ", config_.basic.cutoff_len,
                 "; the seed's budget rule dropped ", sample.cut_tokens,
                 " text tokens (further shortened samples are counted; the total is reported)"));
}

Loader::Done Loader::build(const Job& job) {
  Done done{{}, job.after, nullptr};
  for (const SourceRow& row : job.rows) {
    try {
      done.samples.push_back(build_row(row));
      if (done.samples.back().cut_tokens > 0) note_cut(done.samples.back());
    } catch (const OverlongError& e) {
      if (config_.basic.on_overlong == OnBad::kError) {
        done.error = std::current_exception();
        return done;
      }
      ++done.skipped_overlong;
      note_skip(logged_overlong_, "over-long", e.what());
    } catch (const Error& e) {
      if (config_.basic.on_bad_sample == OnBad::kError) {
        done.error = std::current_exception();
        return done;
      }
      ++done.skipped_bad;
      note_skip(logged_bad_, "bad", e.what());
    }
  }
  return done;
}

void Loader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || next_sequence_ < next_to_hand_out_ + ahead_; });
    if (stopping_) return;
    Job job;
    Done done;
    try {
      job = take_job();  // a source error (unreadable file, ...) reaches next() like a build error
    } catch (...) {
      done = {{}, {}, std::current_exception()};
      job.sequence = next_sequence_++;
    }
    lock.unlock();
    if (!done.error) {
      try {
        done = build(job);
      } catch (...) {  // anything else (out of memory, a libtorch error) also reaches next(), never terminate()
        done = {{}, job.after, std::current_exception()};
      }
    }
    lock.lock();
    finished_.emplace(job.sequence, std::move(done));
    changed_.notify_all();
  }
}

void Loader::start() {
  started_ = true;
  for (int64_t i = 0; i < workers_; ++i) threads_.emplace_back([this] { work(); });
}

ThinkerInputs Loader::next() {
  while (true) {
    Done done;
    if (workers_ == 0) {
      Job job;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        started_ = true;
        job = take_job();
        ++next_to_hand_out_;
      }
      done = build(job);
    } else {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!started_) start();
      changed_.notify_all();
      changed_.wait(lock, [&] { return finished_.count(next_to_hand_out_) > 0; });
      done = std::move(finished_[next_to_hand_out_]);
      finished_.erase(next_to_hand_out_++);
      changed_.notify_all();
    }
    if (done.error) std::rethrow_exception(done.error);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const SamplerState before = handed_out_state_;
      handed_out_state_ = done.after;
      counters_.skipped_bad += done.skipped_bad;
      counters_.skipped_overlong += done.skipped_overlong;
      if (done.samples.empty()) {  // every sample of this micro-batch was skipped
        if (!skipping_since_) skipping_since_ = before;
        const SamplerState& s = *skipping_since_;
        if ((done.after.epoch == s.epoch + 1 && done.after.position >= s.position) || done.after.epoch > s.epoch + 1)
          throw Error(cat("every row of a whole epoch was skipped (", counters_.skipped_bad, " bad, ",
                          counters_.skipped_overlong, " over-long so far; the first: ", first_skip_,
                          "): there is nothing to train on. Fix the data, or the settings that reject it"));
        continue;
      }
      skipping_since_.reset();
      counters_.samples += static_cast<int64_t>(done.samples.size());
      for (const Sample& s : done.samples) counters_.cut += s.cut_tokens > 0;
    }
    // Collating copies every tensor of the batch: outside the lock, so the workers keep building meanwhile.
    return collate(done.samples, pad_id_, config_.loader.pad_to_multiple_of, fake_ ? &*fake_ : nullptr);
  }
}

}  // namespace omnitune
