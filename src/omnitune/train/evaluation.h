// train/evaluation: the validation loss (the seed's --eval-interval / --eval-iters). Every eval_interval
// iterations each data-parallel rank runs eval_iters micro-batches (default: as many as the rows fill) of the
// validation rows (dealt to the
// ranks in turn, in file order, the same rows at every evaluation), forward only; the loss is the mean over
// those micro-batches of each one's loss (the mean over its labelled tokens, what `omnitune forward` gives),
// the same on every rank.
#pragma once

#include <memory>

#include "omnitune/data/dataset.h"
#include "omnitune/data/sample_builder.h"
#include "omnitune/model/thinker.h"
#include "omnitune/train/data_parallel.h"
#include "omnitune/train/master_weights.h"
#include "omnitune/train/run_config.h"

namespace omnitune {

class Evaluation {
 public:
  // Error when the rows cannot fill eval_iters micro-batches on every data-parallel rank.
  Evaluation(std::shared_ptr<const Dataset> rows, std::shared_ptr<const SampleBuilder> builder, const RunConfig& c);
  bool due(int64_t iteration) const { return iteration % config_.options.eval_interval == 0; }
  double run(ThinkerImpl& model, MasterWeights& masters, DataParallel& dp);

 private:
  int64_t micro_batches_;  // on each data-parallel rank
  std::shared_ptr<const Dataset> rows_;
  std::shared_ptr<const SampleBuilder> builder_;
  const RunConfig& config_;
};

}  // namespace omnitune
