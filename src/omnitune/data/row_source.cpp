#include "omnitune/data/row_source.h"

#include "omnitune/core/error.h"
#include "omnitune/data/stream_rows.h"

namespace omnitune {

const nlohmann::json& parse_row(const SourceRow& row, nlohmann::json& storage) {
  if (row.value) return *row.value;
  try {
    storage = nlohmann::json::parse(row.text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(row.origin.where() + ": invalid JSON: " + e.what());
  }
  return storage;
}

IndexedRows::IndexedRows(std::shared_ptr<const Dataset> dataset, const SamplerOptions& options)
    : dataset_(std::move(dataset)), sampler_(dataset_->size(), options) {}

std::vector<SourceRow> IndexedRows::next() {
  std::vector<SourceRow> rows;
  for (int64_t index : sampler_.next()) rows.push_back({&dataset_->row(index), {}, dataset_->origin(index)});
  return rows;
}

std::unique_ptr<RowSource> open_rows(const DataConfig& config, const SamplerOptions& options) {
  if (config.basic.streaming) return std::make_unique<StreamRows>(config, options);
  return std::make_unique<IndexedRows>(std::make_shared<const Dataset>(config), options);
}

}  // namespace omnitune
