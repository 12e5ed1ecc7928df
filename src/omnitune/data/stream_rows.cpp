#include "omnitune/data/stream_rows.h"

#include <algorithm>
#include <cstdint>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"

namespace omnitune {

class StreamRows::Order {
 public:
  Order(const DataConfig& config, int64_t buffer_rows, uint64_t state)
      : stream_(config), capacity_(buffer_rows), rng_(state) {}

  bool next(TextRow& row) {
    if (capacity_ == 0) return stream_.next(row);
    while (!drained_ && static_cast<int64_t>(buffer_.size()) < capacity_) {
      TextRow incoming;
      if (stream_.next(incoming))
        buffer_.push_back(std::move(incoming));
      else
        drained_ = true;
    }
    if (buffer_.empty()) return false;
    const size_t pick = splitmix64(rng_) % buffer_.size();
    row = std::move(buffer_[pick]);
    if (pick + 1 != buffer_.size()) buffer_[pick] = std::move(buffer_.back());
    buffer_.pop_back();
    return true;
  }

 private:
  JsonlStream stream_;
  int64_t capacity_;  // 0: file order
  uint64_t rng_;
  std::vector<TextRow> buffer_;
  bool drained_ = false;
};

StreamRows::StreamRows(const DataConfig& config, const SamplerOptions& options) : config_(config), options_(options) {
  if (options.micro_batch < 1 || options.dp_size < 1 || options.dp_rank < 0 || options.dp_rank >= options.dp_size)
    throw Error(cat("sampler: invalid micro batch ", options.micro_batch, " / data-parallel rank ", options.dp_rank,
                    " of ", options.dp_size));
  global_ = options.micro_batch * options.dp_size;
  // Without max_samples the probe stops after one global micro-batch; with it, it counts every row once
  // (text only, flat memory) to report how many of them max_samples keeps.
  DataConfig uncapped = config_;
  uncapped.basic.max_samples.reset();
  const int64_t want = config_.basic.max_samples ? INT64_MAX : (options.drop_last ? global_ : 1);
  JsonlStream probe(uncapped);
  TextRow row;
  int64_t rows = 0;
  while (rows < want && probe.next(row)) ++rows;
  if (rows == 0) throw Error(config_.path + ": the datasets hold no rows");
  if (config_.basic.max_samples) {
    const int64_t used = std::min(*config_.basic.max_samples, rows);
    log_info(max_samples_note(config_, used, rows));
    rows = used;
  }
  const int64_t needed = options.drop_last ? global_ : 1;
  if (rows < needed)
    throw Error(cat("the dataset has ", rows, " rows, fewer than one global micro-batch (", options.micro_batch, " x ",
                    options.dp_size, " ranks) with drop_last"));
  order_ = epoch_order(0);
}

StreamRows::~StreamRows() = default;

std::unique_ptr<StreamRows::Order> StreamRows::epoch_order(int64_t epoch) const {
  return std::make_unique<Order>(config_, options_.shuffle ? config_.basic.buffer_size : 0,
                                 shuffle_state(options_.seed, epoch));
}

int64_t StreamRows::read(Order& order, int64_t count, int64_t first, std::vector<SourceRow>* mine) {
  TextRow row;
  int64_t got = 0;
  for (; got < count && order.next(row); ++got)
    if (mine && (first + got) % options_.dp_size == options_.dp_rank)
      mine->push_back({nullptr, std::move(row.text), std::move(row.origin)});
  return got;
}

std::vector<SourceRow> StreamRows::next() {
  while (true) {
    if (ended_) {
      order_ = epoch_order(state_.epoch + 1);
      state_ = {state_.epoch + 1, 0};
      ended_ = false;
    }
    std::vector<SourceRow> mine;
    int64_t got = read(*order_, global_, 0, &mine);
    if (got < global_) {
      ended_ = true;
      if (state_.position == 0 && (got == 0 || options_.drop_last))  // checked at the start; the files changed since
        throw Error(cat(config_.path, ": epoch ", state_.epoch,
                        " of the stream holds fewer than one global micro-batch (", got, " rows)"));
      if (got == 0 || options_.drop_last) continue;
      while (got < global_) {  // complete the tail with the epoch's first rows (again, if the epoch is shorter)
        const int64_t more = read(*epoch_order(state_.epoch), global_ - got, got, &mine);
        if (more == 0)
          throw Error(config_.path + ": the stream holds no rows any more (its files changed while reading)");
        got += more;
      }
    }
    ++state_.position;
    return mine;
  }
}

void StreamRows::restore(const SamplerState& state) {
  if (state.epoch < 0 || state.position < 0)
    throw Error(cat("sampler state (epoch ", state.epoch, ", position ", state.position, ") is invalid"));
  order_ = epoch_order(state.epoch);
  ended_ = false;
  for (int64_t k = 0; k < state.position; ++k) {
    const int64_t got = read(*order_, global_, 0, nullptr);
    if (got == global_) continue;
    if (got > 0 && !options_.drop_last && k + 1 == state.position) {  // the completed tail
      ended_ = true;
      break;
    }
    throw Error(cat("sampler state (epoch ", state.epoch, ", position ", state.position,
                    ") does not fit this stream: an epoch holds only ", k, " micro-batches"));
  }
  state_ = state;
}

}  // namespace omnitune
