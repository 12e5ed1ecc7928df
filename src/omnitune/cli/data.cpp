// omnitune data preview | dump | convert-llava: look at what a data.json produces, one sample at a
// time, and convert LLaVA-Instruct data.
#include <ATen/ATen.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "omnitune/cli/commands.h"
#include "omnitune/cli/flag_checks.h"
#include "omnitune/core/error.h"
#include "omnitune/core/log.h"
#include "omnitune/core/output_paths.h"
#include "omnitune/data/collate.h"
#include "omnitune/data/dataset.h"
#include "omnitune/data/fake_media.h"
#include "omnitune/data/jsonl_stream.h"
#include "omnitune/data/llava_convert.h"
#include "omnitune/data/row_source.h"
#include "omnitune/data/sample_builder.h"
#include "omnitune/model/thinker_inputs_file.h"

namespace omnitune {

namespace {

struct DataOptions {
  std::string data_json, out, llava_json, image_root;
  std::vector<int64_t> indices = {0};
};

struct Loaded {
  DataConfig config;
  std::unique_ptr<Dataset> dataset;  // without streaming
  SampleBuilder builder;

  // Row `index` over all datasets; with streaming, read up to it without holding the rows before.
  SourceRow row(int64_t index) const {
    if (index < 0) throw Error(cat("--index ", index, " must be >= 0"));
    if (dataset) {
      if (index >= dataset->size())
        throw Error(cat("--index ", index, ": the datasets hold ", dataset->size(), " rows"));
      return {&dataset->row(index), {}, dataset->origin(index)};
    }
    JsonlStream stream(config);
    TextRow text;
    for (int64_t k = 0; k <= index; ++k)
      if (!stream.next(text)) throw Error(cat("--index ", index, ": the datasets hold ", stream.rows_read(), " rows"));
    return {nullptr, std::move(text.text), std::move(text.origin)};
  }
};

Loaded load(const std::string& data_json) {
  DataConfig config = load_data_config(data_json);
  auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_dir(config.preprocess.model_name_or_path));
  std::unique_ptr<Dataset> dataset;
  if (!config.basic.streaming) dataset = std::make_unique<Dataset>(config);
  SampleBuilder builder(config, tokenizer);
  return {std::move(config), std::move(dataset), std::move(builder)};
}

Sample build(const Loaded& l, const SourceRow& source) {
  nlohmann::json storage;
  const std::string where = source.origin.where();
  return l.builder.build(read_row(parse_row(source, storage), l.config, where), where);
}

// The sample's text with trained spans in [[...]] and runs of one media pad token shown as <|x|>*N.
std::string marked_text(const Sample& s, const Tokenizer& t) {
  std::string out;
  bool trained = false;
  for (size_t i = 0; i < s.input_ids.size();) {
    bool now = s.labels[i] != kIgnoreIndex;
    if (now != trained) out += now ? "[[" : "]]", trained = now;
    size_t j = i + 1;
    while (j < s.input_ids.size() && s.input_ids[j] == s.input_ids[i] && (s.labels[j] != kIgnoreIndex) == now) ++j;
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
  if (o.indices.size() != 1) throw Error("preview takes one --index");
  Loaded l = load(o.data_json);
  SourceRow row = l.row(o.indices[0]);
  Sample s = build(l, row);
  std::cout << "== " << row.origin.where() << " (index " << o.indices[0] << ")\n"
            << marked_text(s, l.builder.tokenizer()) << "\n== " << s.input_ids.size() << " tokens, "
            << s.trained_tokens() << " trained ([[...]]), " << s.image_pixels.size() << " image(s), "
            << s.video_pixels.size() << " video(s), " << s.audio_features.size() << " audio(s)\n";
  for (size_t i = 0; i < s.image_grids.size(); ++i)
    std::cout << "   image " << i << ": grid " << s.image_grids[i][0] << "x" << s.image_grids[i][1] << "x"
              << s.image_grids[i][2] << "\n";
  for (size_t i = 0; i < s.video_grids.size(); ++i)
    std::cout << "   video " << i << ": grid " << s.video_grids[i][0] << "x" << s.video_grids[i][1] << "x"
              << s.video_grids[i][2] << ", " << s.video_second_per_grid[i] << " s per grid\n";
  for (size_t i = 0; i < s.audio_features.size(); ++i)
    std::cout << "   audio " << i << ": " << s.audio_features[i].size(1) << " mel frames\n";
  return 0;
}

// The rows collated into one micro-batch as the loader does (fake media with keep_towers_active), but
// without padding to a multiple of 8.
int dump(const DataOptions& o) {
  Loaded l = load(o.data_json);
  std::vector<NamedPath> inputs = {{"--mm-data", o.data_json}};
  for (const std::string& file : l.config.basic.datasets) inputs.push_back({"dataset file", file});
  check_output_is_not_input({"--out", o.out}, inputs);
  std::vector<Sample> samples;
  std::string text, rows;
  for (int64_t index : o.indices) {
    SourceRow row = l.row(index);
    samples.push_back(build(l, row));
    text += samples.back().text;
    rows += (rows.empty() ? "" : ", ") + row.origin.where();
  }
  std::optional<FakeMedia> fake;
  if (l.config.loader.keep_towers_active) fake = make_fake_media(l.builder);
  ThinkerInputs b = collate(samples, *l.builder.tokenizer().token_to_id("<|endoftext|>"), 1, fake ? &*fake : nullptr);
  write_thinker_inputs(o.out, b, {{"text", text}});
  log_info(cat("data dump: ", rows, " -> ", o.out, " (", b.input_ids.size(0), " x ", b.input_ids.size(1), " tokens)"));
  return 0;
}

int convert(const DataOptions& o) {
  check_output_is_not_input({"--out", o.out}, {{"--llava-json", o.llava_json}, {"--image-root", o.image_root}});
  LlavaConvertReport r = convert_llava(o.llava_json, o.image_root, o.out);
  log_info(cat("convert-llava: wrote ", r.written, " rows to ", o.out));
  if (!r.missing_images.empty()) {
    log_warn(cat("convert-llava: skipped ", r.missing_images.size(), " records whose image is missing, e.g. ",
                 r.missing_images[0]));
  }
  return 0;
}

}  // namespace

Subcommand register_data(CLI::App& app) {
  auto o = std::make_shared<DataOptions>();
  CLI::App* sub = app.add_subcommand("data", "Inspect what a data.json produces; convert LLaVA-Instruct data");
  sub->require_subcommand(1);
  CLI::App* p =
      sub->add_subcommand("preview", "Print one sample's rendered text with the trained spans marked, and its counts");
  p->add_option("--mm-data", o->data_json, "The seed's data.json")->required();
  p->add_option("--index", o->indices, "Row index over all datasets")
      ->expected(1)
      ->capture_default_str()
      ->check(integer_in(0));
  CLI::App* d = sub->add_subcommand("dump",
                                    "Write processed rows as one micro-batch with the model's forward argument names "
                                    "(as the loader collates them, without padding to a multiple of 8)");
  d->add_option("--mm-data", o->data_json, "The seed's data.json")->required();
  d->add_option("--index", o->indices, "Row index over all datasets; several make one micro-batch")
      ->required()
      ->expected(1, 1 << 20)
      ->check(integer_in(0));
  d->add_option("--out", o->out, "Output safetensors")->required();
  CLI::App* c =
      sub->add_subcommand("convert-llava", "LLaVA-Instruct JSON -> the messages format (refuses to overwrite)");
  c->add_option("--llava-json", o->llava_json, "LLaVA-Instruct JSON file")->required();
  c->add_option("--image-root", o->image_root, "Directory of the images (e.g. COCO train2017)")->required();
  c->add_option("--out", o->out, "Output JSON (must not exist)")->required();
  return {sub, [o, p, d] { return p->parsed() ? preview(*o) : d->parsed() ? dump(*o) : convert(*o); }};
}

}  // namespace omnitune
