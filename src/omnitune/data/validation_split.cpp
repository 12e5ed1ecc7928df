#include "omnitune/data/validation_split.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"

namespace omnitune {

TrainValidation load_train_validation(const DataConfig& config, uint64_t seed) {
  const BasicParameters& b = config.basic;
  TrainValidation out;
  if (!b.val_datasets.empty()) {
    DataConfig val = config;
    val.basic.datasets = b.val_datasets;
    val.basic.max_samples = b.val_max_samples;
    val.basic.streaming = false;
    out.validation = std::make_shared<const Dataset>(val);
    if (!b.streaming) out.train = std::make_shared<const Dataset>(config);
    return out;
  }
  if (b.streaming) {
    if (b.val_rate)
      throw Error(config.path +
                  ": val_rate with streaming: true is not supported yet (name the validation rows "
                  "with val_dataset)");
    return out;
  }
  auto all = std::make_shared<const Dataset>(config);
  if (!b.val_rate) {
    out.train = all;
    return out;
  }
  const int64_t rows = all->size();
  const int64_t held = *b.val_rate < 1 ? std::max<int64_t>(1, std::llround(*b.val_rate * static_cast<double>(rows)))
                                       : static_cast<int64_t>(*b.val_rate);
  if (held >= rows)
    throw Error(cat(config.path, ": val_rate ", *b.val_rate, " holds out ", held, " of the ", rows,
                    " rows: none would be left to train on"));
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor order = at::randperm(rows, gen, at::kLong);
  std::vector<int64_t> validation(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + held), train;
  std::sort(validation.begin(), validation.end());
  for (int64_t r = 0, v = 0; r < rows; ++r)
    if (v < held && validation[v] == r)
      ++v;
    else
      train.push_back(r);
  out.train = std::make_shared<const Dataset>(*all, train);
  out.validation = std::make_shared<const Dataset>(*all, validation);
  log_info(cat(config.path, ": val_rate ", *b.val_rate, ": ", held, " of ", rows,
               " rows held out for validation (chosen with seed ", seed, ")"));
  return out;
}

}  // namespace omnitune
