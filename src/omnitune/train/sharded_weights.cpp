#include "omnitune/train/sharded_weights.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>

#include "omnitune/core/error.h"
#include "omnitune/train/data_parallel.h"
#include "omnitune/train/fsdp_runner.h"
#include "omnitune/train/train_step.h"

namespace omnitune {

struct ShardedWeights::Tensor {
  std::string name;
  at::Tensor param;  // the model's parameter: full shape, compute dtype; storage only while gathered
  std::vector<int64_t> shape;
  int64_t rows = 0, row_numel = 0, per_rank = 0;  // dim 0, elements a row, rows a rank (rounded up)
  int64_t first = 0, own = 0;                     // this rank's rows [first, first + own)
  at::Tensor master, grad;                        // fp32 [per_rank * row_numel] (padded; grad: trainable only)
  int64_t gather_offset = 0, reduce_offset = -1;  // in the unit's flat buffers; -1: frozen
  size_t trainable_index = 0;                     // in trainable() / grads() / has_grad(), when not frozen
  bool replicated = false;                        // whole on every rank (ignored_modules), in no unit
  int64_t block() const { return per_rank * row_numel; }
  int64_t rows_of(int64_t rank) const { return std::clamp<int64_t>(rows - rank * per_rank, 0, per_rank); }
};

struct ShardedWeights::Unit {
  std::string name;
  torch::nn::Module* module = nullptr;
  std::vector<size_t> tensors;
  int64_t gather_numel = 0, reduce_numel = 0;  // one rank's block of the flat buffers
  bool allocated = false;
  bool gathering = false;  // an all-gather started and not finished
  at::Tensor gather_input, gather_output;
  PendingCollective gather_work;
};

struct ShardedWeights::Pending {
  size_t unit;
  at::Tensor input, output;  // [size * reduce_numel], [reduce_numel] in reduce dtype
  PendingCollective work;
};

namespace {

// A tensor over `param`'s storage with a version counter of its own: writing the gathered weights through it
// does not count as an in-place change of the parameter that autograd saved for the backward.
at::Tensor storage_alias(const at::Tensor& param) {
  return at::empty({0}, param.options().requires_grad(false)).set_(param.storage(), 0, param.sizes(), param.strides());
}

void set_storage(const at::Tensor& param, bool present) {
  c10::StorageImpl* storage = param.storage().unsafeGetStorageImpl();
  const size_t bytes = present ? static_cast<size_t>(param.numel()) * param.element_size() : 0;
  storage->set_data_ptr_noswap(present ? storage->allocator()->allocate(bytes) : at::DataPtr(nullptr, param.device()));
  storage->set_nbytes(bytes);
}

}  // namespace

ShardedWeights::ShardedWeights(torch::nn::Module& model, const std::vector<UnitModule>& units,
                               const std::set<std::string>& frozen, ProcessGroup& group, const ShardingOptions& options,
                               const ShardRows& source)
    : group_(group), options_(options) {
  const int64_t world = group.world(), size = options.sharding_size, rank = group.rank();
  if (size < 1 || world % size != 0)
    throw Error(cat("sharding_size ", size, " does not divide the ", world, " ranks of the job"));
  // Shard groups of consecutive ranks; replicas: the ranks at the same place in each shard group.
  std::vector<int64_t> shard_members, replica_members;
  for (int64_t r = 0; r < world; ++r) {
    if (r / size == rank / size) shard_members.push_back(r);
    if (r % size == rank % size) replica_members.push_back(r);
  }
  for (int64_t g = 0; g < world / size; ++g) {  // every rank forms the groups in the same order
    if (g != rank / size) continue;
    gather_group_ = group.subgroup(cat("shard", g, "/gather"), shard_members);
    reduce_group_ = group.subgroup(cat("shard", g, "/reduce"), shard_members);
  }
  if (world > size) replica_group_ = group.subgroup(cat("replica", rank % size), replica_members);

  // Unit of each parameter: the longest unit name that prefixes it, else the root (unit 0).
  std::map<std::string, size_t> unit_by_name;
  for (const UnitModule& u : units) {
    units_.push_back(Unit{});
    units_.back().name = u.name;
    units_.back().module = u.module;
    unit_by_name[u.name] = units_.size() - 1;
  }
  at::NoGradGuard no_grad;
  // offload_to_cpu: the rows, their gradients and (AdamW works where they are) the moments in host memory,
  // pinned for the copies to and from a GPU.
  const bool host = options.offload_to_cpu || options.device.is_cpu();
  const at::TensorOptions state_options = at::TensorOptions()
                                              .dtype(at::kFloat)
                                              .device(host ? at::Device(at::kCPU) : options.device)
                                              .pinned_memory(host && options.device.is_cuda() && options.pin_memory);
  for (auto& item : model.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    at::Tensor p = item.value();
    if (p.dim() == 0) throw Error(cat("parameter sharding: ", name, " is a scalar; it cannot be cut into rows"));
    size_t unit = 0;
    for (size_t cut = name.rfind('.'); cut != std::string::npos && cut > 0; cut = name.rfind('.', cut - 1)) {
      auto it = unit_by_name.find(name.substr(0, cut));
      if (it != unit_by_name.end()) {
        unit = it->second;
        break;
      }
    }
    Tensor t;
    t.name = name;
    t.shape = p.sizes().vec();
    t.rows = p.size(0);
    t.row_numel = t.rows ? p.numel() / t.rows : 0;
    t.replicated = options.replicated.count(name) > 0;
    t.per_rank = t.replicated ? t.rows : (t.rows + size - 1) / size;
    t.first = t.replicated ? 0 : std::min(t.rows, shard_rank() * t.per_rank);
    t.own = t.replicated ? t.rows : t.rows_of(shard_rank());
    t.master = at::zeros({t.block()}, state_options);
    std::vector<int64_t> own_shape = t.shape;
    own_shape[0] = t.own;
    at::Tensor own_rows = t.master.narrow(0, 0, t.own * t.row_numel).view(own_shape);
    source(name, p, t.first, own_rows);
    const bool trains = !frozen.count(name);
    if (trains) t.grad = at::zeros_like(t.master);
    p.set_data(at::empty(p.sizes(), p.options().dtype(options.compute).device(options.device)));
    p.set_requires_grad(trains);
    t.param = p;
    if (t.replicated) {
      storage_alias(p).view({-1}).copy_(t.master);
      replicated_.push_back(tensors_.size());
    } else {
      Unit& u = units_[unit];
      t.gather_offset = u.gather_numel;
      u.gather_numel += t.block();
      if (trains) t.reduce_offset = u.reduce_numel, u.reduce_numel += t.block();
      set_storage(p, false);
      u.tensors.push_back(tensors_.size());
    }
    all_.emplace_back(name, own_rows);
    if (trains) {
      trainable_.emplace_back(name, all_.back().second);
      grads_.push_back(t.grad.narrow(0, 0, t.own * t.row_numel).view(own_shape));
      t.trainable_index = trainable_tensor_.size();
      trainable_tensor_.push_back(tensors_.size());
    }
    tensors_.push_back(std::move(t));
  }
  has_grad_.assign(grads_.size(), 0);
  runner_ = std::make_unique<FsdpRunner>(*this, options);
}

ShardedWeights::~ShardedWeights() = default;

void ShardedWeights::begin_forward() { runner_->begin(); }
UnitRunner* ShardedWeights::unit_runner() { return runner_.get(); }
void ShardedWeights::accumulate_grads() {
  runner_->finish();
  at::NoGradGuard no_grad;
  for (size_t i : replicated_) {
    Tensor& t = tensors_[i];
    if (!t.grad.defined() || !t.param.grad().defined()) continue;
    t.grad.add_(t.param.grad().reshape({-1}).to(t.grad.device()));
    has_grad_[t.trainable_index] = 1;
    t.param.mutable_grad() = at::Tensor();
  }
}

void ShardedWeights::publish() {
  at::NoGradGuard no_grad;
  for (size_t i : replicated_) storage_alias(tensors_[i].param).view({-1}).copy_(tensors_[i].master);
}

size_t ShardedWeights::unit_count() const { return units_.size(); }
bool ShardedWeights::trains(size_t unit) const { return units_[unit].reduce_numel > 0; }
int64_t ShardedWeights::shard_rank() const { return gather_group_->rank(); }
int64_t ShardedWeights::shard_size() const { return gather_group_->size(); }

size_t ShardedWeights::unit_of(const torch::nn::Module& module) const {
  for (size_t u = 0; u < units_.size(); ++u)
    if (units_[u].module == &module) return u;
  throw Error(cat("internal: module ", module.name(), " is not a wrapping unit of the parameter sharding"));
}

int64_t ShardedWeights::first_row(size_t all_index) const { return tensors_[all_index].first; }
bool ShardedWeights::writes(size_t all_index) const { return !tensors_[all_index].replicated || shard_rank() == 0; }

std::optional<MasterWeights::RowShard> ShardedWeights::row_shard() const {
  return RowShard{shard_rank(), shard_size(), group_.rank() < shard_size()};
}

void ShardedWeights::allocate(size_t unit) {
  Unit& u = units_[unit];
  if (u.allocated) return;
  for (size_t i : u.tensors) set_storage(tensors_[i].param, true);
  u.allocated = true;
}

void ShardedWeights::release(size_t unit) {
  Unit& u = units_[unit];
  if (!u.allocated) return;
  for (size_t i : u.tensors) set_storage(tensors_[i].param, false);
  u.allocated = false;
}

void ShardedWeights::gather(size_t unit) {
  start_gather(unit);
  finish_gather(unit);
}

void ShardedWeights::start_gather(size_t unit) {
  at::NoGradGuard no_grad;
  Unit& u = units_[unit];
  if (u.tensors.empty() || u.gathering) return;
  const int64_t size = shard_size(), block = u.gather_numel;
  // [block] this rank's rows, where the group's collectives run (the GPU with NCCL, the host with Gloo)
  u.gather_input = at::empty({block}, at::TensorOptions().dtype(options_.compute).device(gather_group_->device()));
  for (size_t i : u.tensors)
    u.gather_input.narrow(0, tensors_[i].gather_offset, tensors_[i].block()).copy_(tensors_[i].master);
  u.gather_output = at::empty({size * block}, u.gather_input.options());  // [size * block], rank-major
  u.gather_work = gather_group_->all_gather(u.gather_output, u.gather_input,
                                            cat("gathering the parameters of ", u.name.empty() ? "the root" : u.name));
  u.gathering = true;
}

void ShardedWeights::finish_gather(size_t unit) {
  at::NoGradGuard no_grad;
  Unit& u = units_[unit];
  if (!u.gathering) return;
  u.gather_work.wait();
  u.gathering = false;
  const int64_t size = shard_size(), block = u.gather_numel;
  const at::Tensor output = std::move(u.gather_output);
  u.gather_input = at::Tensor();
  allocate(unit);
  for (size_t i : u.tensors) {
    const Tensor& t = tensors_[i];
    at::Tensor full = storage_alias(t.param).view({-1});
    for (int64_t r = 0; r < size; ++r) {
      const int64_t n = t.rows_of(r) * t.row_numel;
      if (n > 0) full.narrow(0, r * t.block(), n).copy_(output.narrow(0, r * block + t.gather_offset, n));
    }
  }
}

void ShardedWeights::start_reduce(size_t unit) {
  at::NoGradGuard no_grad;
  Unit& u = units_[unit];
  if (u.reduce_numel == 0) return;
  const int64_t size = shard_size(), block = u.reduce_numel;
  auto p = std::make_unique<Pending>();
  p->unit = unit;
  // [size * block] rank-major row blocks
  p->input = at::zeros({size * block}, at::TensorOptions().dtype(options_.reduce).device(reduce_group_->device()));
  for (size_t i : u.tensors) {
    Tensor& t = tensors_[i];
    if (t.reduce_offset < 0) continue;  // frozen
    at::Tensor& g = t.param.mutable_grad();
    if (!g.defined()) continue;  // no gradient on this rank: zeros
    has_grad_[t.trainable_index] = 1;
    const at::Tensor flat = g.reshape({-1}).to(p->input.device());
    for (int64_t r = 0; r < size; ++r) {
      const int64_t n = t.rows_of(r) * t.row_numel;
      if (n > 0) p->input.narrow(0, r * block + t.reduce_offset, n).copy_(flat.narrow(0, r * t.block(), n));
    }
    g = at::Tensor();
  }
  p->output = at::empty({block}, p->input.options());
  p->work = reduce_group_->reduce_scatter(p->output, p->input,
                                          cat("reducing the gradients of ", u.name.empty() ? "the root" : u.name));
  pending_.push_back(std::move(p));
}

void ShardedWeights::finish_reduces(bool wait) {
  at::NoGradGuard no_grad;
  size_t done = 0;
  for (; done < pending_.size(); ++done) {
    Pending& p = *pending_[done];
    if (!wait && !p.work.done()) break;
    p.work.wait();
    for (size_t i : units_[p.unit].tensors) {
      Tensor& t = tensors_[i];
      if (t.reduce_offset >= 0) t.grad.add_(p.output.narrow(0, t.reduce_offset, t.block()).to(t.grad.device()));
    }
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(done));
}

void ShardedWeights::check_no_stray_grads() const {
  for (size_t i : trainable_tensor_)
    if (!tensors_[i].replicated && tensors_[i].param.grad().defined())
      throw Error(cat("internal: the gradient of ", tensors_[i].name,
                      " arrived after its unit's gradients were reduce-scattered"));
}

bool ShardedWeights::any_rank_max(std::vector<bool>& flags, const std::string& what) {
  at::Tensor t = at::zeros({static_cast<int64_t>(flags.size())}, at::kDouble);
  for (size_t i = 0; i < flags.size(); ++i) t[static_cast<int64_t>(i)] = flags[i] ? 1.0 : 0.0;
  group_.all_reduce_max(t, what);
  bool any = false;
  for (size_t i = 0; i < flags.size(); ++i) any |= (flags[i] = t[static_cast<int64_t>(i)].item<double>() > 0);
  return any;
}

namespace {

// Sums `grads` (fp32) over some ranks in `reduce` dtype: one flattened transfer through all_reduce(buffer), the
// buffer on `device` (where the group's collectives run).
template <class AllReduce>
void sum_flattened(const std::vector<at::Tensor>& grads, at::ScalarType reduce, at::Device device,
                   AllReduce&& all_reduce) {
  if (grads.empty()) return;
  std::vector<at::Tensor> flat;
  for (const at::Tensor& g : grads) flat.push_back(g.reshape({-1}));
  at::Tensor buffer = at::cat(flat).to(device, reduce).contiguous();
  all_reduce(buffer);
  int64_t offset = 0;
  for (const at::Tensor& g : grads) {
    g.copy_(buffer.narrow(0, offset, g.numel()).view(g.sizes()));
    offset += g.numel();
  }
}

}  // namespace

void ShardedWeights::reduce_grads(DataParallel& /*dp*/, at::ScalarType reduce) {
  std::vector<at::Tensor> replicated, rows;  // whole on every rank: summed over the job; rows: over the replicas
  for (size_t k = 0; k < grads_.size(); ++k)
    (tensors_[trainable_tensor_[k]].replicated ? replicated : rows).push_back(grads_[k]);
  sum_flattened(replicated, reduce, group_.device(), [&](at::Tensor& buffer) {
    group_.all_reduce_sum(buffer, "summing the gradients of the replicated modules");
  });
  if (replica_group_)  // HSDP: the shard groups' sums summed over the replicas
    sum_flattened(rows, reduce, replica_group_->device(), [&](at::Tensor& buffer) {
      replica_group_->all_reduce_sum(buffer, "summing the gradients over the replicas");
    });
  std::vector<bool> flags(has_grad_.begin(), has_grad_.end());
  any_rank_max(flags, "agreeing which parameters got a gradient");
  for (size_t i = 0; i < flags.size(); ++i) has_grad_[i] = flags[i] ? 1 : 0;
}

at::Tensor ShardedWeights::clip_grads(double max_norm) {
  // Each rank's rows once per shard group: the sum of squares over the group is the global one.
  // Summed where the gradients live, then one value to the host for the group's sum (Gloo).
  at::Tensor squares = at::zeros(
      {1}, at::TensorOptions().dtype(at::kDouble).device(grads_.empty() ? at::Device(at::kCPU) : grads_[0].device()));
  for (size_t k = 0; k < grads_.size(); ++k)  // a replicated parameter counted once per shard group
    if (!tensors_[trainable_tensor_[k]].replicated || shard_rank() == 0) squares += sum_of_squares(grads_[k]);
  squares = squares.to(at::kCPU);
  reduce_group_->all_reduce_sum(squares, "summing the gradient norm");
  return clip_to_norm(grads_, squares.sqrt().to(at::kFloat).reshape({}), max_norm);
}

}  // namespace omnitune
