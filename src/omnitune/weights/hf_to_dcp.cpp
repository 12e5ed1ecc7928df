// convert_hf_to_dcp: per-expert HF tensors -> merged fp32 training-checkpoint tensors, one expert slab at
// a time (the seed: ExpertMergeDcpConverter.hf_to_dcp, which loads the whole model first).
#include <ATen/ATen.h>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/core/output_paths.h"
#include "omnitune/io/torch_tensors.h"
#include "omnitune/weights/checkpoint_model.h"
#include "omnitune/weights/convert.h"
#include "omnitune/weights/hf_model.h"
#include "omnitune/weights/tensor_stream.h"

namespace omnitune {

namespace {

// A merged expert parameter (model/hf_layout.h), expert slab by expert slab: one slab in memory at a time.
void emit_merged_experts(const SafetensorsCheckpoint& hf, const ParamLayout& p, const ByteSink& sink) {
  at::Tensor slab = at::empty({p.shape[1], p.shape[2]}, at::kFloat);  // [H, 2I] or [I, H]
  for (size_t k = 0; k < p.hf.size(); ++k) {
    const SafetensorsFile& file = hf.file_of(p.hf[k].name);
    const TensorEntry& entry = file.at(p.hf[k].name);
    hf_view_of_slab(p, slab, k).copy_(read_tensor(file, entry));
    release_pages(file, entry);
    if (k + 1 == p.hf.size() || hf_expert(p, k + 1) != hf_expert(p, k)) sink(slab.data_ptr(), slab.nbytes());
  }
}

}  // namespace

void convert_hf_to_dcp(const HfToDcpOptions& o) {
  check_output_is_not_input({"--save-dir", o.save_dir}, {{"--hf-dir", o.hf_dir}});
  HfModel hf = open_hf_model(o.hf_dir);
  require_new_output(o.save_dir, o.overwrite, "its release/ checkpoint");
  const CheckpointInfo info{"release", o.dcp_prefix, o.hf_prefix};
  const SafetensorsCheckpoint& weights = *hf.weights;
  std::vector<StreamedTensor> tensors;
  uint64_t total = 0;
  for (const ParamLayout& p : hf.layout) {
    StreamedTensor t{checkpoint_tensor_name(p.name, info.dcp_prefix, info.hf_prefix), DType::kF32, p.shape, {}};
    if (p.kind == ParamKind::kPlain)
      t.produce = [&weights, &p](const ByteSink& sink) {
        const SafetensorsFile& file = weights.file_of(p.hf[0].name);
        emit_mapped(file, file.at(p.hf[0].name), at::kFloat, sink);
      };
    else
      t.produce = [&weights, &p](const ByteSink& sink) { emit_merged_experts(weights, p, sink); };
    total += t.nbytes();
    tensors.push_back(std::move(t));
  }

  CheckpointStaging staging(o.save_dir, kReleaseDirName);
  {
    ByteProgress progress("hf-to-dcp", total);
    write_checkpoint_model(staging.dir(), tensors, hf.config_text, info, o.max_shard_bytes,
                           [&](uint64_t n) { progress.add(n); });
  }
  staging.commit(kReleaseDirName);
  log_info(cat("hf-to-dcp: wrote ", tensors.size(), " tensors (", total >> 20, " MiB fp32, experts merged) to ",
               o.save_dir, "/", kReleaseDirName,
               hf.talker_tensors ? cat("; left out ", hf.talker_tensors,
                                       " talker/code2wav tensors (dcp-to-hf copies them from the original)")
                                 : std::string()));
}

}  // namespace omnitune
