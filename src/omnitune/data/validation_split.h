// data/validation_split: the training rows and the validation rows of a data.json — val_dataset's files (the
// seed's rule: they win over val_rate), or val_rate of the training rows held out, chosen with the run's seed
// and left out of training.
#pragma once

#include <cstdint>
#include <memory>

#include "omnitune/data/data_config.h"
#include "omnitune/data/dataset.h"

namespace omnitune {

struct TrainValidation {
  std::shared_ptr<const Dataset> train;       // null when streaming (the training rows are then streamed)
  std::shared_ptr<const Dataset> validation;  // null: no validation set
};

// Errors: val_rate with streaming (not supported yet), a val_rate that leaves no training row.
TrainValidation load_train_validation(const DataConfig& config, uint64_t seed);

}  // namespace omnitune
