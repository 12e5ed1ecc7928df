// train/sharded_weights: FSDP2 parameter sharding over the ranks of a shard group. Every parameter is cut
// along dim 0 into `shard group size` equal row blocks (the last ones padded): this rank keeps the fp32
// master rows it owns and their fp32 gradient; the model's own parameter (full shape, param_dtype) has
// storage only while its wrapping unit is gathered. gather() fills a unit's parameters from every rank's
// rows (one all-gather in param_dtype), release() frees them again, start_reduce() reduce-scatters the
// unit's gradients (in reduce_dtype) so that each rank adds the sum over the ranks of its own rows.
// With HSDP (shard groups smaller than the job) the shard-group sums are then summed over the replicas.
// trainable()/grads()/all() are the owned rows only: AdamW, clipping and checkpoints work on those.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "omnitune/parallel/process_group.h"
#include "omnitune/train/master_weights.h"

namespace omnitune {

// A wrapping unit: a module whose parameters are gathered together (the seed's FSDP2 units).
struct UnitModule {
  std::string name;  // "model.layers.3"; "" for the root (every parameter outside the units)
  torch::nn::Module* module = nullptr;
};

// Writes rows [first, first + rows.size(0)) of parameter `name` (in-memory name; `param` gives its full shape)
// into `rows` (fp32, on the device): from a checkpoint, Hugging Face weights or the random init.
using ShardRows =
    std::function<void(const std::string& name, const at::Tensor& param, int64_t first, at::Tensor& rows)>;

struct ShardingOptions {
  at::Device device = at::kCPU;
  at::ScalarType compute = at::kBFloat16;  // param_dtype
  at::ScalarType reduce = at::kFloat;      // reduce_dtype
  int64_t sharding_size = 1;               // ranks per shard group; the job's size / this = replicas
  bool reshard_after_forward = true;
  bool offload_to_cpu = false, pin_memory = true;   // rows, gradients and AdamW state in (pinned) host memory
  int forward_prefetch = 1, backward_prefetch = 1;  // num_to_forward_prefetch, num_to_backward_prefetch
  std::set<std::string> replicated;  // ignored_modules' parameters: whole on every rank, gradients summed
};

class FsdpRunner;

class ShardedWeights : public MasterWeights {
 public:
  // `model`: built, its weights not loaded (never written, large parameters take no memory); `units` in model
  // order, the root first. Each rank asks `source` for its rows of each parameter, one parameter at a time.
  ShardedWeights(torch::nn::Module& model, const std::vector<UnitModule>& units, const std::set<std::string>& frozen,
                 ProcessGroup& group, const ShardingOptions& options, const ShardRows& source);
  ~ShardedWeights() override;

  size_t unit_count() const;
  size_t unit_of(const torch::nn::Module& module) const;  // Error for a module that is no unit
  bool trains(size_t unit) const;                         // has trainable parameters
  int64_t shard_rank() const;
  int64_t shard_size() const;
  std::optional<RowShard> row_shard() const override;
  int64_t first_row(size_t all_index) const override;
  bool writes(size_t all_index) const override;

  void gather(size_t unit);         // collective over the shard group (blocking); the parameters then hold the weights
  void start_gather(size_t unit);   // the same in two halves: the all-gather started (no-op while one runs) ...
  void finish_gather(size_t unit);  // ... and awaited, the parameters filled (no-op when none was started)
  void allocate(size_t unit);       // storage for the unit's parameters (contents undefined), no communication
  void release(size_t unit);        // frees the unit's parameter storage (no communication)
  void start_reduce(size_t unit);   // starts the reduce-scatter of the unit's parameter .grad (then cleared)
  void finish_reduces(bool wait);   // adds finished reduce-scatters into grads() (all of them with `wait`)
  // Any trainable parameter that still has a .grad: a gradient that arrived after its unit was reduced.
  void check_no_stray_grads() const;
  bool any_rank_max(std::vector<bool>& flags, const std::string& what);  // OR over all ranks, in place

  void begin_forward() override;
  UnitRunner* unit_runner() override;
  void accumulate_grads() override;  // the micro-batch's remaining reduce-scatters, added into grads()
  void publish() override;           // the replicated parameters from their masters (gather() reads the rest)
  void reduce_grads(DataParallel& dp, at::ScalarType reduce) override;
  at::Tensor clip_grads(double max_norm) override;

 private:
  struct Tensor;
  struct Unit;
  struct Pending;
  std::vector<Tensor> tensors_;
  std::vector<Unit> units_;
  std::vector<std::unique_ptr<Pending>> pending_;
  std::vector<size_t> trainable_tensor_;  // trainable index -> tensors_ index
  std::vector<size_t> replicated_;        // tensors_ indices of the replicated parameters
  ProcessGroup& group_;
  ShardingOptions options_;
  std::unique_ptr<Subgroup> gather_group_, reduce_group_, replica_group_;
  std::unique_ptr<FsdpRunner> runner_;
};

}  // namespace omnitune
