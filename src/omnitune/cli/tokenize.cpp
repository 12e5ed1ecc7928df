// omnitune tokenize --tokenizer <dir>: JSONL text -> token ids (or ids -> text with --decode).
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "omnitune/cli/commands.h"
#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/core/output_paths.h"
#include "omnitune/core/utf8.h"
#include "omnitune/text/tokenizer.h"

namespace omnitune {

namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::string input;   // "" = stdin
  std::string output;  // "" = stdout
  bool decode = false;
  bool skip_special = false;
  bool pieces = false;
};

bool blank(const std::string& line) { return line.find_first_not_of(" \t\r") == std::string::npos; }

std::string without_json_prefix(const std::string& what) {
  const size_t end = what.find("] ");  // nlohmann's "[json.exception.parse_error.101] "
  return what.rfind("[json.exception.", 0) == 0 && end != std::string::npos ? what.substr(end + 2) : what;
}

const nlohmann::json& field(const nlohmann::json& row, const char* key, const std::string& where) {
  if (!row.is_object()) throw Error(cat(where, ": expected a JSON object, got ", row.type_name()));
  auto it = row.find(key);
  if (it == row.end()) throw Error(cat(where, ": no \"", key, "\" key"));
  return *it;
}

void encode_line(const Tokenizer& tokenizer, const nlohmann::json& row, bool pieces, const std::string& where,
                 std::string& out) {
  const nlohmann::json& text = field(row, "text", where);
  if (!text.is_string()) throw Error(cat(where, ": \"text\" must be a string, got ", text.type_name()));
  if (pieces) {
    out += nlohmann::json({{"pieces", tokenizer.pre_tokenize(text.get_ref<const std::string&>())}}).dump();
    out += '\n';
    return;
  }
  const std::vector<int32_t> ids = tokenizer.encode(text.get_ref<const std::string&>());
  out += "{\"ids\":[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  out += "]}\n";
}

void decode_line(const Tokenizer& tokenizer, const nlohmann::json& row, bool skip_special, const std::string& where,
                 std::string& out) {
  const nlohmann::json& list = field(row, "ids", where);
  if (!list.is_array()) throw Error(cat(where, ": \"ids\" must be an array of integers"));
  std::vector<int32_t> ids;
  ids.reserve(list.size());
  for (const auto& id : list) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= tokenizer.vocab_size())
      throw Error(cat(where, ": \"ids\" holds ", id.dump(), ", not a token id below ", tokenizer.vocab_size()));
    ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  out += nlohmann::json({{"text", tokenizer.decode(ids, skip_special)}}).dump();
  out += '\n';
}

int run_tokenize(const TokenizeOptions& options) {
  check_output_is_not_input({"--output", options.output},
                            {{"--input", options.input}, {"--tokenizer", options.tokenizer}});
  const Tokenizer tokenizer = Tokenizer::from_dir(options.tokenizer);
  std::ifstream in_file;
  if (!options.input.empty()) {
    require_regular_file(options.input, "--input");
    in_file.open(options.input, std::ios::binary);
    if (!in_file) throw Error(cat(options.input, ": cannot open for reading"));
  }
  std::istream& in = options.input.empty() ? std::cin : in_file;
  std::ofstream out_file;
  if (!options.output.empty()) {
    out_file.open(options.output, std::ios::binary);
    if (!out_file) throw Error(cat(options.output, ": cannot open for writing"));
  }
  std::ostream& out = options.output.empty() ? std::cout : out_file;
  const std::string label = options.input.empty() ? "stdin" : options.input;

  std::string line, buffer;
  for (size_t number = 1; std::getline(in, line); ++number) {
    const std::string where = cat(label, ": line ", number);
    if (const size_t bad = find_invalid_utf8(line); bad != std::string::npos)
      throw Error(cat(where, ": invalid UTF-8 at byte offset ", bad));
    if (blank(line)) continue;
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(cat(where, ": invalid JSON: ", without_json_prefix(e.what())));
    }
    try {
      if (options.decode)
        decode_line(tokenizer, row, options.skip_special, where, buffer);
      else
        encode_line(tokenizer, row, options.pieces, where, buffer);
    } catch (const Error& e) {
      const std::string what = e.what();
      throw Error(what.rfind(where, 0) == 0 ? what : cat(where, ": ", what));
    }
    if (buffer.size() >= (1 << 16))
      out.write(buffer.data(), static_cast<std::streamsize>(buffer.size())), buffer.clear();
  }
  out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  out.flush();
  if (!out) throw Error(cat(options.output.empty() ? "stdout" : options.output, ": write failed"));
  return 0;
}

}  // namespace

Subcommand register_tokenize(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* sub = app.add_subcommand(
      "tokenize",
      "Tokenize JSONL text with a Hugging Face tokenizer.json (Qwen byte-level BPE): each input line "
      "{\"text\": ...} gives the output line {\"ids\": [...]}, as tokenizers' encode(text, "
      "add_special_tokens=False); blank lines are skipped. With --decode, lines {\"ids\": [...]} give "
      "{\"text\": ...}");
  sub->add_option("--tokenizer", options->tokenizer, "Directory with tokenizer.json (and tokenizer_config.json)")
      ->required();
  sub->add_option("--input", options->input, "JSONL input file (default: standard input)");
  sub->add_option("--output", options->output, "JSONL output file (default: standard output)");
  sub->add_flag("--decode", options->decode,
                "Decode instead: input lines {\"ids\": [...]}, output lines {\"text\": ...}");
  sub->add_flag("--skip-special-tokens", options->skip_special, "With --decode, leave special tokens out of the text");
  sub->add_flag("--pieces", options->pieces,
                "Print {\"pieces\": [...]} instead: the added tokens and pre-tokens (NFC text split by the regex) "
                "that are merged into ids");
  return {sub, [options] { return run_tokenize(*options); }};
}

}  // namespace omnitune
