// data/row_source: where the loader's rows come from, micro-batch by micro-batch, with a position that
// checkpoints save and restore. Two kinds: the in-memory dataset walked by the Sampler (IndexedRows)
// and the JSON Lines stream (StreamRows, data/stream_rows.h); open_rows picks by `streaming`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "omnitune/data/dataset.h"
#include "omnitune/data/row_origin.h"
#include "omnitune/data/sampler.h"

namespace omnitune {

struct SourceRow {
  const nlohmann::json* value = nullptr;  // the parsed row (owned by the Dataset), or
  std::string text;                       // its unparsed JSON text (streaming), parsed by the worker
  RowOrigin origin;
};

// The row as JSON: `value`, or `text` parsed into `storage`. Error "<where>: invalid JSON: ..." .
const nlohmann::json& parse_row(const SourceRow& row, nlohmann::json& storage);

class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual std::vector<SourceRow> next() = 0;  // this rank's next micro-batch (moves to the next epoch at the end)
  virtual SamplerState state() const = 0;     // position after the last micro-batch taken
  virtual void restore(const SamplerState& state) = 0;
};

// The in-memory Dataset in the Sampler's order.
class IndexedRows : public RowSource {
 public:
  IndexedRows(std::shared_ptr<const Dataset> dataset, const SamplerOptions& options);
  std::vector<SourceRow> next() override;
  SamplerState state() const override { return sampler_.state(); }
  void restore(const SamplerState& state) override { sampler_.restore(state); }

 private:
  std::shared_ptr<const Dataset> dataset_;
  Sampler sampler_;
};

// StreamRows when config.basic.streaming, else IndexedRows over a freshly loaded Dataset.
std::unique_ptr<RowSource> open_rows(const DataConfig& config, const SamplerOptions& options);

}  // namespace omnitune
