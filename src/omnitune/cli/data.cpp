// omnitune data preview | dump | convert-llava: look at what a data.json produces, one sample at a
// time, and convert LLaVA-Instruct data.
#include <ATen/ATen.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "omnitune/cli/commands.h"
#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/data/collate.h"
#include "omnitune/data/dataset.h"
#include "omnitune/data/llava_convert.h"
#include "omnitune/data/sample_builder.h"
#include "omnitune/io/torch_tensors.h"

namespace omnitune {

namespace {

struct DataOptions {
  std::string data_json, out, llava_json, image_root;
  int64_t index = 0;
};

struct Loaded {
  DataConfig config;
  Dataset dataset;
  SampleBuilder builder;
};

Loaded load(const std::string& data_json) {
  DataConfig config = load_data_config(data_json);
  auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_dir(config.preprocess.model_name_or_path));
  Dataset dataset(config);
  SampleBuilder builder(config, tokenizer);
  return {std::move(config), std::move(dataset), std::move(builder)};
}

Sample build(const Loaded& l, int64_t index) {
  if (index < 0 || index >= l.dataset.size()) throw Error(cat("--index ", index, ": the datasets hold ", l.dataset.size(), " rows"));
  return l.builder.build(read_row(l.dataset.row(index), l.config, l.dataset.where(index)), l.dataset.where(index));
}

// The sample's text with trained spans in [[...]] and runs of one media pad token shown as <|x|>*N.
std::string marked_text(const Sample& s, const Tokenizer& t) {
  std::string out;
  bool trained = false;
  for (size_t i = 0; i < s.input_ids.size();) {
    bool now = s.labels[i] != -100;
    if (now != trained) out += now ? "[[" : "]]", trained = now;
    size_t j = i + 1;
    while (j < s.input_ids.size() && s.input_ids[j] == s.input_ids[i] && (s.labels[j] != -100) == now) ++j;
    std::string piece = t.decode(std::vector<int32_t>{static_cast<int32_t>(s.input_ids[i])});
    if (j - i > 2 && piece.size() > 4 && piece.front() == '<' && piece.back() == '>') {
      out += cat(piece, "*", j - i);
    } else {
      std::vector<int32_t> ids(s.input_ids.begin() + i, s.input_ids.begin() + j);
      out += t.decode(ids);
    }
    i = j;
  }
  if (trained) out += "]]";
  return out;
}

int preview(const DataOptions& o) {
  Loaded l = load(o.data_json);
  Sample s = build(l, o.index);
  std::cout << "== " << l.dataset.where(o.index) << " (index " << o.index << " of " << l.dataset.size() << ")\n"
            << marked_text(s, l.builder.tokenizer()) << "\n== " << s.input_ids.size() << " tokens, " << s.trained_tokens()
            << " trained ([[...]]), " << s.image_pixels.size() << " image(s), " << s.video_pixels.size() << " video(s), "
            << s.audio_features.size() << " audio(s)\n";
  for (size_t i = 0; i < s.image_grids.size(); ++i)
    std::cout << "   image " << i << ": grid " << s.image_grids[i][0] << "x" << s.image_grids[i][1] << "x" << s.image_grids[i][2] << "\n";
  for (size_t i = 0; i < s.video_grids.size(); ++i)
    std::cout << "   video " << i << ": grid " << s.video_grids[i][0] << "x" << s.video_grids[i][1] << "x" << s.video_grids[i][2]
              << ", " << s.video_second_per_grid[i] << " s per grid\n";
  for (size_t i = 0; i < s.audio_features.size(); ++i)
    std::cout << "   audio " << i << ": " << s.audio_features[i].size(1) << " mel frames\n";
  return 0;
}

int dump(const DataOptions& o) {
  Loaded l = load(o.data_json);
  Sample s = build(l, o.index);
  Batch b = collate({s}, *l.builder.tokenizer().token_to_id("<|endoftext|>"), 1);
  NamedTensors out = {{"input_ids", b.input_ids}, {"attention_mask", b.attention_mask}, {"labels", b.labels}};
  auto add = [&](const char* name, const at::Tensor& t) {
    if (t.defined()) out.emplace_back(name, t);
  };
  add("pixel_values", b.pixel_values);
  add("image_grid_thw", b.image_grid_thw);
  add("pixel_values_videos", b.pixel_values_videos);
  add("video_grid_thw", b.video_grid_thw);
  add("video_second_per_grid", b.video_second_per_grid);
  add("input_features", b.input_features);
  add("feature_attention_mask", b.feature_attention_mask);
  save_tensors(o.out, out, {{"text", s.text}, {"use_audio_in_video", b.use_audio_in_video ? "true" : "false"}});
  log_info(cat("data dump: ", l.dataset.where(o.index), " -> ", o.out, " (", s.input_ids.size(), " tokens)"));
  return 0;
}

int convert(const DataOptions& o) {
  LlavaConvertReport r = convert_llava(o.llava_json, o.image_root, o.out);
  log_info(cat("convert-llava: wrote ", r.written, " rows to ", o.out));
  if (!r.missing_images.empty()) {
    log_warn(cat("convert-llava: skipped ", r.missing_images.size(), " records whose image is missing, e.g. ", r.missing_images[0]));
  }
  return 0;
}

}  // namespace

Subcommand register_data(CLI::App& app) {
  auto o = std::make_shared<DataOptions>();
  CLI::App* sub = app.add_subcommand("data", "Inspect what a data.json produces; convert LLaVA-Instruct data");
  sub->require_subcommand(1);
  CLI::App* p = sub->add_subcommand("preview", "Print one sample's rendered text with the trained spans marked, and its counts");
  p->add_option("--mm-data", o->data_json, "The seed's data.json")->required();
  p->add_option("--index", o->index, "Row index over all datasets")->capture_default_str();
  CLI::App* d = sub->add_subcommand("dump", "Write one processed sample with the model's forward argument names");
  d->add_option("--mm-data", o->data_json, "The seed's data.json")->required();
  d->add_option("--index", o->index, "Row index over all datasets")->required();
  d->add_option("--out", o->out, "Output safetensors")->required();
  CLI::App* c = sub->add_subcommand("convert-llava", "LLaVA-Instruct JSON -> the messages format (refuses to overwrite)");
  c->add_option("--llava-json", o->llava_json, "LLaVA-Instruct JSON file")->required();
  c->add_option("--image-root", o->image_root, "Directory of the images (e.g. COCO train2017)")->required();
  c->add_option("--out", o->out, "Output JSON (must not exist)")->required();
  return {sub, [o, p, d] { return p->parsed() ? preview(*o) : d->parsed() ? dump(*o) : convert(*o); }};
}

}  // namespace omnitune
