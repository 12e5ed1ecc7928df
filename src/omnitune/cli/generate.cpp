// omnitune generate: a reply of the thinker to a prompt (text, images, audio, video), decoded token by
// token with a KV cache and streamed to stdout; the chat template and media processing are training's.
#include <ATen/ATen.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "omnitune/cli/commands.h"
#include "omnitune/cli/flag_checks.h"
#include "omnitune/cli/inference_model.h"
#include "omnitune/core/config_file.h"
#include "omnitune/core/error.h"
#include "omnitune/core/output_paths.h"
#include "omnitune/data/collate.h"
#include "omnitune/data/generation_prompt.h"
#include "omnitune/data/sample_builder.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/model/generation.h"
#include "omnitune/model/sampling.h"
#include "omnitune/model/thinker_inputs_file.h"
#include "omnitune/train/run_config.h"
#include "omnitune/train/train_checkpoint.h"

namespace omnitune {

namespace {

struct GenerateOptions {
  std::string model, adapter, prompt, messages, mm_data, template_name, json_out, save_inputs;
  std::string dtype = "fp32", device = "auto", attn = "sdpa";
  PromptMedia media;
  bool use_audio_in_video = false;
  int64_t max_new_tokens = 512;
  SamplingOptions sampling;
};

// The template and media processing of the prompt: --mm-data's, else those of the run that wrote the checkpoint,
// else the defaults (the model directory holding the tokenizer).
DataConfig processing_config(const GenerateOptions& o, const InferenceModel& m) {
  DataConfig c;
  if (!o.mm_data.empty()) {
    c = load_data_config(o.mm_data);
  } else if (nlohmann::json run = m.training_checkpoint ? checkpoint_run_config(m.dir) : nlohmann::json();
             run.is_object() && run.contains("data_json")) {
    c = read_data_config(run["data_json"], m.dir + "/trainer_state.json (config.data_json)");
  } else {
    c.preprocess.model_name_or_path = m.dir;
  }
  if (!o.template_name.empty()) c.basic.chat_template.kind = parse_template(o.template_name, "--template");
  if (o.use_audio_in_video) c.preprocess.use_audio_in_video = true;
  return c;
}

std::string tokenizer_dir(const InferenceModel& m, const DataConfig& c) {
  for (const std::string& dir : {m.dir, c.preprocess.model_name_or_path})
    if (!dir.empty() && std::filesystem::exists(dir + "/tokenizer.json")) return dir;
  throw Error(cat("no tokenizer.json in ", m.dir,
                  c.preprocess.model_name_or_path.empty() ? "" : " or " + c.preprocess.model_name_or_path,
                  ": pass --mm-data with a model_name_or_path that has the tokenizer"));
}

// <|im_end|>, the tokenizer's eos_token and generation_config.json's eos_token_id (one id or a list).
std::set<int64_t> stop_tokens(const Tokenizer& tokenizer, const std::string& tokenizer_dir,
                              const std::string& model_dir) {
  std::set<int64_t> stops;
  if (auto id = tokenizer.token_to_id("<|im_end|>")) stops.insert(*id);
  const std::string config = tokenizer_dir + "/tokenizer_config.json";
  if (std::filesystem::exists(config)) {
    nlohmann::json j = load_json_file(config);
    if (j.contains("eos_token") && j["eos_token"].is_string())
      if (auto id = tokenizer.token_to_id(j["eos_token"].get<std::string>())) stops.insert(*id);
  }
  const std::string generation = model_dir + "/generation_config.json";
  if (std::filesystem::exists(generation)) {
    nlohmann::json eos = load_json_file(generation).value("eos_token_id", nlohmann::json());
    for (const auto& id : eos.is_array() ? eos : nlohmann::json::array({eos}))
      if (id.is_number_integer()) stops.insert(id.get<int64_t>());
  }
  return stops;
}

// Writes the text of the new tokens as it becomes complete UTF-8 (special tokens and ids the tokenizer does not
// have print nothing).
class TextStream {
 public:
  TextStream(const Tokenizer& tokenizer, bool echo) : tokenizer_(tokenizer), echo_(echo) {}
  void add(int64_t id) {
    if (id >= tokenizer_.vocab_size()) return;
    ids_.push_back(static_cast<int32_t>(id));
    text_ = tokenizer_.decode(ids_, true);
    if (text_.size() >= 3 && text_.compare(text_.size() - 3, 3, "\xEF\xBF\xBD") == 0) return;  // may complete
    flush();
  }
  void flush() {
    if (echo_ && text_.size() > printed_) {
      std::fwrite(text_.data() + printed_, 1, text_.size() - printed_, stdout);
      std::fflush(stdout);
    }
    printed_ = text_.size();
  }
  const std::string& text() const { return text_; }

 private:
  const Tokenizer& tokenizer_;
  bool echo_;
  std::vector<int32_t> ids_;
  std::string text_;
  size_t printed_ = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run_generate(const GenerateOptions& o) {
  if (o.prompt.empty() == o.messages.empty()) throw Error("give one of --prompt TEXT or --messages FILE");
  if (o.dtype != "fp32" && o.dtype != "bf16") throw Error("--dtype: '" + o.dtype + "' is not fp32 or bf16");
  check_sampling(o.sampling);
  AttnImpl impl = parse_attn_impl(o.attn, "--attn");
  if (impl == AttnImpl::kFlashAttention2)
    throw Error("--attn flash_attention_2 is not supported by generate yet; use sdpa or eager");
  for (const auto& [flag, path] : {std::pair{"--json", o.json_out}, {"--save-inputs", o.save_inputs}})
    if (!path.empty()) check_output_is_not_input({flag, path}, {{"--model", o.model}, {"--messages", o.messages}});
  const at::Device device = pick_device(o.device, 0);
  const at::ScalarType dtype = o.dtype == "bf16" ? at::kBFloat16 : at::kFloat;

  ThinkerRunOptions run;
  run.text_attention = run.vision_attention = run.audio_attention = {impl, AttnLayout::kBNSD};
  // The prompt first (a bad messages or media file is refused before the weights load), then the model.
  InferenceModel m = locate_inference_model(o.model);
  const DataConfig data = processing_config(o, m);
  const std::string tokenizer_from = tokenizer_dir(m, data);
  auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_dir(tokenizer_from));
  const SampleBuilder builder(data, tokenizer, m.config.position_id_per_seconds);
  const RowSample row = o.messages.empty() ? prompt_row(o.prompt, o.media) : messages_row(o.messages, o.media);
  const Sample prompt = builder.build_prompt(row, o.messages.empty() ? "--prompt" : o.messages);
  ThinkerInputs batch = collate({prompt}, 0, 1);  // [1, S], no padding
  batch.labels = at::Tensor();
  check_thinker_inputs(batch, m.config, o.messages.empty() ? "--prompt" : o.messages);
  if (!o.save_inputs.empty()) write_thinker_inputs(o.save_inputs, batch);
  const std::set<int64_t> stops = stop_tokens(*tokenizer, tokenizer_from, m.dir);
  load_inference_model(m, o.adapter, run);
  m.thinker->to(device, dtype);
  const ThinkerInputs inputs = to_device(batch, device, dtype);

  at::NoGradGuard no_grad;
  Generator generator(*m.thinker);
  TokenSampler sampler(o.sampling);
  TextStream stream(*tokenizer, true);
  std::vector<int64_t> new_ids;
  const auto start = std::chrono::steady_clock::now();
  int64_t token = sampler.pick(generator.prefill(inputs));
  const double prefill_seconds = seconds_since(start);
  const auto decode_start = std::chrono::steady_clock::now();
  bool stopped = false;
  while (true) {
    new_ids.push_back(token);
    stopped = stops.count(token) > 0;
    if (!stopped) stream.add(token);
    if (stopped || static_cast<int64_t>(new_ids.size()) == o.max_new_tokens) break;
    token = sampler.pick(generator.next(token));
  }
  const double decode_seconds = seconds_since(decode_start);
  stream.flush();
  std::printf("\n");
  std::fflush(stdout);

  const int64_t decoded = static_cast<int64_t>(new_ids.size()) - 1;  // tokens after the prefill's
  const double rate = decoded > 0 && decode_seconds > 0 ? decoded / decode_seconds : 0.0;
  std::fprintf(stderr, "generate: prompt %zu tokens (prefill %.3f s), %zu new tokens (%s), decode %.2f tokens/s\n",
               prompt.input_ids.size(), prefill_seconds, new_ids.size(),
               stopped ? "stopped at an end token" : "reached --max-new-tokens", rate);
  if (!o.json_out.empty()) {
    nlohmann::json out = {{"prompt_ids", prompt.input_ids},
                          {"new_token_ids", new_ids},
                          {"text", stream.text()},
                          {"stop", stopped ? "end_token" : "max_new_tokens"},
                          {"prefill_seconds", prefill_seconds},
                          {"decode_seconds", decode_seconds},
                          {"decode_tokens_per_second", rate}};
    write_file_atomic(o.json_out, out.dump(1) + "\n");
  }
  return 0;
}

}  // namespace

Subcommand register_generate(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* sub = app.add_subcommand(
      "generate",
      "Answer a prompt with the thinker (text out; the talker's speech output is not supported): the training chat "
      "template and media processing, a KV cache, the reply streamed to stdout until <|im_end|>/EOS");
  sub->add_option("--model", o->model,
                  "Hugging Face checkpoint directory, or a training checkpoint (save directory, iter_N or release; a "
                  "LoRA run's on its base model)")
      ->required();
  sub->add_option("--adapter", o->adapter, "A LoRA adapter directory as PEFT writes it, applied to --model");
  sub->add_option("--prompt", o->prompt,
                  "The user's message; <image>/<video>/<audio> mark where the media go (else they come first)");
  sub->add_option("--messages", o->messages,
                  "A JSON file: {\"messages\": [{\"role\": \"system\"|\"user\"|\"assistant\", \"content\": ...}, ...], "
                  "\"images\": [...], ...} (a dataset row) or just the list; it ends with the user's message");
  sub->add_option("--image", o->media.images, "An image file (repeat for several)");
  sub->add_option("--audio", o->media.audios, "An audio file (repeat for several)");
  sub->add_option("--video", o->media.videos, "A video file (repeat for several)");
  sub->add_flag("--use-audio-in-video", o->use_audio_in_video, "Use each video's sound track, interleaved in time");
  sub->add_option("--max-new-tokens", o->max_new_tokens, "Stop after this many new tokens")
      ->capture_default_str()
      ->check(integer_in(1));
  sub->add_option("--temperature", o->sampling.temperature, "0 = greedy; > 0 samples from softmax(logits / T)")
      ->capture_default_str()
      ->check(number_in(0));
  sub->add_option("--top-k", o->sampling.top_k, "Sample among the k most likely tokens (0 = all)")
      ->capture_default_str()
      ->check(integer_in(0));
  sub->add_option("--top-p", o->sampling.top_p, "Sample among the most likely tokens whose probabilities sum to p")
      ->capture_default_str()
      ->check(number_in(0, 1, true));
  sub->add_option("--seed", o->sampling.seed, "Seed of the sampling")->capture_default_str()->check(integer_in(0));
  sub->add_option("--template", o->template_name,
                  "qwen3_omni or qwen3_omni_nothink (default: --mm-data's or the training run's, else qwen3_omni)");
  sub->add_option("--mm-data", o->mm_data,
                  "A data.json whose template, media processing and tokenizer (model_name_or_path) to use (default: "
                  "the training run's for a training checkpoint, else the defaults and --model's tokenizer)");
  sub->add_option("--dtype", o->dtype, "fp32 or bf16 (weights and compute)")->capture_default_str();
  sub->add_option("--device", o->device, "auto, cpu or cuda")->capture_default_str();
  sub->add_option("--attn", o->attn, "Attention of every tower: sdpa or eager")->capture_default_str();
  sub->add_option("--json", o->json_out,
                  "Also write prompt_ids, new_token_ids, text, stop and timings to this JSON file");
  sub->add_option(
      "--save-inputs", o->save_inputs,
      "Also write the prompt's model inputs (safetensors, Hugging Face argument names) as `omnitune forward` "
      "reads them");
  return {sub, [o] { return run_generate(*o); }};
}

}  // namespace omnitune
