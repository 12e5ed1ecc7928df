#include "omnitune/train/evaluation.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/data/loader.h"
#include "omnitune/data/row_source.h"
#include "omnitune/model/unit_runner.h"
#include "omnitune/train/loss_weights.h"

namespace omnitune {

Evaluation::Evaluation(std::shared_ptr<const Dataset> rows, std::shared_ptr<const SampleBuilder> builder,
                       const RunConfig& c)
    : rows_(std::move(rows)), builder_(std::move(builder)), config_(c) {
  const TrainOptions& o = c.options;
  const int64_t per_round = c.dp_size * o.micro_batch_size;  // rows of one micro-batch on every rank
  micro_batches_ = o.eval_iters.value_or(rows_->size() / per_round);
  if (micro_batches_ < 1 || rows_->size() < micro_batches_ * per_round)
    throw Error(cat(o.mm_data, ": the validation set has ", rows_->size(), " rows; ",
                    o.eval_iters ? cat("--eval-iters ", *o.eval_iters) : std::string("one evaluation"),
                    " (micro-batches of ", o.micro_batch_size, " on each of ", c.dp_size,
                    " data-parallel rank(s)) needs ", std::max<int64_t>(1, micro_batches_) * per_round,
                    o.eval_iters ? " (lower --eval-iters)" : ""));
  log_info(cat("validation every ", o.eval_interval, " iterations: ", micro_batches_, " micro-batch(es) on each of ",
               c.dp_size, " data-parallel rank(s), from ", rows_->size(), " validation rows"));
}

double Evaluation::run(ThinkerImpl& model, MasterWeights& masters, DataParallel& dp) {
  const RunConfig& c = config_;
  const TrainOptions& o = c.options;
  // A fresh pass over the rows in file order: every evaluation sees the same micro-batches.
  SamplerOptions sampler{o.micro_batch_size, c.dp_rank, c.dp_size, static_cast<uint64_t>(o.seed), false, false};
  Loader loader(std::make_unique<IndexedRows>(rows_, sampler), builder_, c.data, c.data.loader.num_workers, 2);
  at::NoGradGuard no_grad;
  model.eval();  // no LoRA dropout
  double sum = 0;
  for (int64_t k = 0; k < micro_batches_; ++k) {
    const ThinkerInputs batch = loader.next();
    ThinkerInputs in = to_device(batch, c.device, c.compute);
    in.label_weights = label_weights({batch.labels}, LossType::kDefault)[0].to(c.device);
    masters.begin_forward();
    ThinkerOutputs out;
    {
      UnitRunnerScope sharding(masters.unit_runner());
      out = model.forward(in);
    }
    sum += out.lm_loss.item<double>();  // with CP: this rank's share of the micro-batch's loss
  }
  model.train();
  at::Tensor total = at::tensor({sum}, at::kDouble);
  if (dp.size() > 1) dp.sum(total, "summing the validation losses");
  return total.item<double>() / static_cast<double>(micro_batches_ * c.dp_size);
}

}  // namespace omnitune
