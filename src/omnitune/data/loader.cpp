#include "omnitune/data/loader.h"

#include "omnitune/core/log.h"

namespace omnitune {

Loader::Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const SampleBuilder> builder, const DataConfig& config,
               const SamplerOptions& sampler, int64_t workers, int64_t ahead)
    : dataset_(std::move(dataset)), builder_(std::move(builder)), config_(config), sampler_(dataset_->size(), sampler),
      workers_(workers), ahead_(std::max<int64_t>(1, ahead)) {
  pad_id_ = *builder_->tokenizer().token_to_id("<|endoftext|>");
  handed_out_state_ = sampler_.state();
}

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
  sampler_.restore(state);
  handed_out_state_ = state;
}

SamplerState Loader::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return handed_out_state_;
}

LoaderCounters Loader::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

Loader::Job Loader::take_job() {
  Job job{next_sequence_++, sampler_.next(), {}};
  job.after = sampler_.state();
  return job;
}

Loader::Done Loader::build(const Job& job) {
  Done done{{}, job.after, nullptr};
  for (int64_t row : job.rows) {
    const std::string where = dataset_->where(row);
    try {
      done.samples.push_back(builder_->build(read_row(dataset_->row(row), config_, where), where));
    } catch (const OverlongError& e) {
      if (config_.basic.on_overlong == OnBad::kError) {
        done.error = std::current_exception();
        return done;
      }
      log_warn(std::string("skipping over-long sample: ") + e.what());
      std::lock_guard<std::mutex> lock(mutex_);
      ++counters_.skipped_overlong;
    } catch (const Error& e) {
      if (config_.basic.on_bad_sample == OnBad::kError) {
        done.error = std::current_exception();
        return done;
      }
      log_warn(std::string("skipping bad sample: ") + e.what());
      std::lock_guard<std::mutex> lock(mutex_);
      ++counters_.skipped_bad;
    }
  }
  return done;
}

void Loader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || next_sequence_ < next_to_hand_out_ + ahead_; });
    if (stopping_) return;
    Job job = take_job();
    lock.unlock();
    Done done;
    try {
      done = build(job);
    } catch (...) {  // anything else (out of memory, a libtorch error) also reaches next(), never terminate()
      done = {{}, job.after, std::current_exception()};
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

Batch Loader::next() {
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
    std::lock_guard<std::mutex> lock(mutex_);
    handed_out_state_ = done.after;
    if (done.samples.empty()) continue;  // every sample of this micro-batch was skipped
    counters_.samples += static_cast<int64_t>(done.samples.size());
    return collate(done.samples, pad_id_, config_.loader.pad_to_multiple_of);
  }
}

}  // namespace omnitune
