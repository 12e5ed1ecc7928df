#include "omnitune/data/sample_file.h"

#include <ATen/ATen.h>

#include "omnitune/core/error.h"

namespace omnitune {

namespace {

at::Tensor grids_tensor(const std::vector<std::array<int64_t, 3>>& grids) {
  at::Tensor t = at::empty({static_cast<int64_t>(grids.size()), 3}, at::kLong);
  for (size_t i = 0; i < grids.size(); ++i)
    for (int k = 0; k < 3; ++k) t[static_cast<int64_t>(i)][k] = grids[i][k];
  return t;
}

std::vector<int64_t> ids_of(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

}  // namespace

NamedTensors sample_tensors(const Sample& s) {
  NamedTensors out = {{"input_ids", at::tensor(s.input_ids, at::kLong)}, {"labels", at::tensor(s.labels, at::kLong)}};
  auto list = [&](const char* kind, const std::vector<at::Tensor>& items) {
    for (size_t k = 0; k < items.size(); ++k) out.emplace_back(cat(kind, ".", k), items[k]);
  };
  list("image", s.image_pixels);
  list("video", s.video_pixels);
  list("audio", s.audio_features);
  out.emplace_back("image_grid_thw", grids_tensor(s.image_grids));
  out.emplace_back("video_grid_thw", grids_tensor(s.video_grids));
  out.emplace_back("video_second_per_grid", at::tensor(s.video_second_per_grid, at::kDouble));
  return out;
}

std::map<std::string, std::string> sample_metadata(const Sample& s) {
  return {{"text", s.text},
          {"use_audio_in_video", s.use_audio_in_video ? "true" : "false"},
          {"cut_tokens", std::to_string(s.cut_tokens)}};
}

Sample read_sample(const SafetensorsFile& file) {
  auto fail = [&](const std::string& what) -> Error { return Error(file.path() + ": " + what); };
  auto get = [&](const std::string& name, at::ScalarType type, int64_t dims) {
    const TensorEntry* entry = file.find(name);
    if (!entry) throw fail("no tensor '" + name + "'");
    at::Tensor t = read_tensor(file, *entry);
    if (t.scalar_type() != type || t.dim() != dims)
      throw fail(cat("tensor '", name, "' is ", t.scalar_type(), " ", t.sizes()));
    return t;
  };
  Sample s;
  s.input_ids = ids_of(get("input_ids", at::kLong, 1));
  s.labels = ids_of(get("labels", at::kLong, 1));
  if (s.labels.size() != s.input_ids.size()) throw fail("labels and input_ids differ in length");
  auto grids = [&](const char* name) {
    at::Tensor t = get(name, at::kLong, 2);
    if (t.size(1) != 3) throw fail(cat("tensor '", name, "' is ", t.sizes()));
    std::vector<std::array<int64_t, 3>> out;
    for (int64_t i = 0; i < t.size(0); ++i)
      out.push_back({t[i][0].item<int64_t>(), t[i][1].item<int64_t>(), t[i][2].item<int64_t>()});
    return out;
  };
  s.image_grids = grids("image_grid_thw");
  s.video_grids = grids("video_grid_thw");
  at::Tensor spg = get("video_second_per_grid", at::kDouble, 1);
  s.video_second_per_grid.assign(spg.data_ptr<double>(), spg.data_ptr<double>() + spg.numel());
  if (s.video_second_per_grid.size() != s.video_grids.size())
    throw fail("video_second_per_grid does not match video_grid_thw");
  auto list = [&](const char* kind, size_t count, int64_t rows_per_item, const std::vector<std::array<int64_t, 3>>* g) {
    std::vector<at::Tensor> out;
    for (size_t k = 0; k < count; ++k) {
      at::Tensor t = get(cat(kind, ".", k), at::kFloat, 2);
      if (g && (t.size(0) != (*g)[k][0] * (*g)[k][1] * (*g)[k][2] || t.size(1) != rows_per_item))
        throw fail(cat("tensor '", kind, ".", k, "' ", t.sizes(), " does not match its grid"));
      out.push_back(t);
    }
    return out;
  };
  s.image_pixels = list("image", s.image_grids.size(), 1536, &s.image_grids);
  s.video_pixels = list("video", s.video_grids.size(), 1536, &s.video_grids);
  size_t audios = 0;
  while (file.find(cat("audio.", audios))) ++audios;
  s.audio_features = list("audio", audios, 0, nullptr);
  const size_t expected = 2 + s.image_pixels.size() + s.video_pixels.size() + audios + 3;
  if (file.tensors().size() != expected)
    throw fail(cat(file.tensors().size(), " tensors where a sample has ", expected));
  const auto& meta = file.metadata();
  auto text = meta.find("text"), flag = meta.find("use_audio_in_video");
  if (text == meta.end() || flag == meta.end()) throw fail("metadata lacks text / use_audio_in_video");
  s.text = text->second;
  s.use_audio_in_video = flag->second == "true";
  if (auto cut = meta.find("cut_tokens"); cut != meta.end()) {
    if (cut->second.empty() || cut->second.size() > 18 ||
        cut->second.find_first_not_of("0123456789") != std::string::npos)
      throw fail("metadata cut_tokens is not a count");
    s.cut_tokens = std::stoll(cut->second);
  }
  return s;
}

}  // namespace omnitune
