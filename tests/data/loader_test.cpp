#include "omnitune/data/loader.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

#include "data_fixture.h"
#include "test_util.h"

namespace omnitune {

namespace {
// A text-only dataset of `rows` rows whose answers are their index; every 7th row is bad.
std::string make_data(const test::TempDir& dir, int rows, const std::string& on_bad) {
  std::string lines;
  for (int i = 0; i < rows; ++i) {
    std::string role = i % 7 == 6 ? "robot" : "user";
    lines += "{\"messages\": [{\"role\": \"" + role + "\", \"content\": \"question " + std::to_string(i) +
             "\"}, {\"role\": \"assistant\", \"content\": \"answer " + std::to_string(i) + "\"}]}\n";
  }
  test::write_text(dir.file("rows.jsonl"), lines);
  test::write_text(dir.file("data.json"),
                   R"({"dataset_param": {"preprocess_parameters": {"model_name_or_path": ")" OMNITUNE_SOURCE_DIR
                   R"(/assets/tokenizer/qwen3-omni"}, "basic_parameters": {"dataset": ")" +
                       dir.file("rows.jsonl") + R"(", "on_bad_sample": ")" + on_bad + R"("},
      "attr": {"messages": "messages", "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}})");
  return dir.file("data.json");
}

struct Fixture {
  DataConfig config;
  std::shared_ptr<const Dataset> dataset;
  std::shared_ptr<const SampleBuilder> builder;
  explicit Fixture(const std::string& path) : config(load_data_config(path)) {
    dataset = std::make_shared<const Dataset>(config);
    builder = std::make_shared<const SampleBuilder>(
        config, std::make_shared<const Tokenizer>(Tokenizer::from_dir(config.preprocess.model_name_or_path)));
  }
};
}  // namespace

TEST(Loader, ResumeMidEpochContinuesExactly) {
  test::TempDir dir;
  Fixture f(make_data(dir, 30, "skip"));
  SamplerOptions o{2, 0, 1, 5, true, true};
  std::vector<at::Tensor> straight;
  {
    Loader loader(f.dataset, f.builder, f.config, o, 2);
    for (int i = 0; i < 20; ++i) straight.push_back(loader.next().input_ids);  // 15 batches per epoch: crosses one
    EXPECT_GT(loader.counters().skipped_bad, 0);
  }
  SamplerState saved;
  {
    Loader first(f.dataset, f.builder, f.config, o, 2);
    for (int i = 0; i < 7; ++i) EXPECT_TRUE(at::equal(first.next().input_ids, straight[i]));
    saved = first.state();
  }
  Loader resumed(f.dataset, f.builder, f.config, o, 0);  // also: threads or not, the same batches
  resumed.restore(saved);
  for (int i = 7; i < 20; ++i) EXPECT_TRUE(at::equal(resumed.next().input_ids, straight[i])) << i;
}

TEST(Loader, TwoRanksReadDisjointRows) {
  test::TempDir dir;
  Fixture f(make_data(dir, 24, "skip"));
  std::set<std::string> seen;
  int64_t total = 0;
  for (int64_t rank = 0; rank < 2; ++rank) {
    Loader loader(f.dataset, f.builder, f.config, {3, rank, 2, 9, true, true}, 1);
    for (int i = 0; i < 4; ++i) {
      ThinkerInputs b = loader.next();
      for (int64_t r = 0; r < b.input_ids.size(0); ++r) {
        seen.insert(f.builder->tokenizer().decode(std::vector<int32_t>(
            b.input_ids[r].data_ptr<int64_t>(), b.input_ids[r].data_ptr<int64_t>() + b.input_ids.size(1))));
        ++total;
      }
    }
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), total);
}

TEST(Loader, BadRowIsAnErrorNamingTheRowUnlessSkipped) {
  test::TempDir dir;
  Fixture f(make_data(dir, 10, "error"));
  Loader loader(f.dataset, f.builder, f.config, {10, 0, 1, 1, false, true}, 2);
  std::string message = test::error_of([&] { loader.next(); });
  EXPECT_NE(message.find("rows.jsonl row 6 (line 7): messages[0]: unknown role 'robot'"), std::string::npos) << message;
}

TEST(Loader, AnEpochOfOnlySkippedRowsIsAnErrorAndEachKindIsLoggedOnce) {
  test::TempDir dir;
  std::string rows;
  for (int i = 0; i < 9; ++i)
    rows += R"({"messages": [{"role": "robot", "content": "q"}, {"role": "assistant", "content": "a"}]})"
            "\n";
  test::write_text(dir.file("rows.jsonl"), rows);
  Fixture f(test::write_data_json(dir, dir.file("rows.jsonl"), R"(, "on_bad_sample": "skip")"));
  for (int64_t workers : {0, 2}) {
    Loader loader(f.dataset, f.builder, f.config, {2, 0, 1, 1, true, false}, workers);
    testing::internal::CaptureStdout();
    std::string message = test::error_of([&] { loader.next(); });
    const std::string log = testing::internal::GetCapturedStdout();
    EXPECT_NE(message.find("every row of a whole epoch was skipped"), std::string::npos) << message;
    EXPECT_NE(message.find("unknown role 'robot'"), std::string::npos) << message;
    size_t warnings = 0;
    for (size_t at = log.find("skipping bad sample"); at != std::string::npos;
         at = log.find("skipping bad sample", at + 1))
      ++warnings;
    EXPECT_EQ(warnings, 1u) << log;
    EXPECT_GE(loader.counters().skipped_bad, 9);
  }
}

TEST(Loader, PadsToAMultipleOfEight) {
  test::TempDir dir;
  Fixture f(make_data(dir, 6, "skip"));
  Loader loader(f.dataset, f.builder, f.config, {3, 0, 1, 1, false, true}, 0);
  ThinkerInputs b = loader.next();
  EXPECT_EQ(b.input_ids.size(1) % 8, 0);
  EXPECT_TRUE(at::equal(b.labels.masked_select(b.attention_mask == 0),
                        at::full({(b.attention_mask == 0).sum().item<int64_t>()}, -100, at::kLong)));
}

}  // namespace omnitune
