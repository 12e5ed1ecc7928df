// data/stream_rows: the rows of `streaming: true`. An epoch is one pass over the JSON Lines stream
// (data/jsonl_stream.h) in file order or, with shuffle, through a shuffle buffer of `buffer_size` rows
// seeded by (seed, epoch): each row read replaces the one drawn at random, so every rank computes the
// same global order while holding at most buffer_size rows. Global micro-batch g is the next
// micro_batch x dp_size rows of that order and rank r takes rows r, r + dp, ... of it (ranks partition
// the data). At the end of the stream an incomplete global micro-batch is dropped (drop_last) or
// completed with the epoch's first rows, and the next epoch starts again from the beginning.
// The state is the Sampler's (epoch, micro-batches taken); restore replays that epoch up to there
// (rows are read, not parsed), so a restored loader continues with exactly the next micro-batch.
#pragma once

#include <memory>

#include "omnitune/data/jsonl_stream.h"
#include "omnitune/data/row_source.h"

namespace omnitune {

class StreamRows : public RowSource {
 public:
  // Reads ahead one global micro-batch to check that the stream holds one (Error otherwise, and for a
  // JSON array file); with max_samples it counts the stream's rows once and logs how many it keeps.
  StreamRows(const DataConfig& config, const SamplerOptions& options);
  ~StreamRows() override;
  StreamRows(const StreamRows&) = delete;
  StreamRows& operator=(const StreamRows&) = delete;

  std::vector<SourceRow> next() override;
  SamplerState state() const override { return state_; }
  void restore(const SamplerState& state) override;

 private:
  class Order;  // one epoch's global row order
  // Up to `count` rows of `order`; those of this rank (by global index first + k) go to *mine when given.
  int64_t read(Order& order, int64_t count, int64_t first, std::vector<SourceRow>* mine);
  std::unique_ptr<Order> epoch_order(int64_t epoch) const;

  DataConfig config_;
  SamplerOptions options_;
  int64_t global_;  // rows per global micro-batch
  std::unique_ptr<Order> order_;
  SamplerState state_;
  bool ended_ = false;  // the epoch's stream has run out
};

}  // namespace omnitune
