#include "omnitune/data/stream_rows.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data_fixture.h"

namespace omnitune {

namespace {

// (file row) of each SourceRow: row indices within rows.jsonl.
std::vector<int64_t> rows_of(const std::vector<SourceRow>& batch) {
  std::vector<int64_t> out;
  for (const auto& r : batch) out.push_back(r.origin.row);
  return out;
}

DataConfig streaming_config(const test::TempDir& dir, int rows, const std::string& basic = "") {
  test::write_text(dir.file("rows.jsonl"), test::text_rows(rows));
  return load_data_config(test::write_data_json(dir, dir.file("rows.jsonl"), R"(, "streaming": true)" + basic));
}

}  // namespace

TEST(DataStream, FileOrderRanksAndEpochs) {
  test::TempDir dir;
  DataConfig c = streaming_config(dir, 11);
  // 2 ranks x micro-batch 2: global batches of 4 rows; 11 rows -> 2 per epoch with drop_last.
  StreamRows r0(c, {2, 0, 2, 1, false, true}), r1(c, {2, 1, 2, 1, false, true});
  EXPECT_EQ(rows_of(r0.next()), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(rows_of(r1.next()), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(rows_of(r0.next()), (std::vector<int64_t>{4, 6}));
  EXPECT_EQ(r0.state().epoch, 0);
  EXPECT_EQ(rows_of(r0.next()), (std::vector<int64_t>{0, 2}));  // rows 8..10 dropped; epoch 1 starts over
  EXPECT_EQ(r0.state().epoch, 1);
  EXPECT_EQ(r0.state().position, 1);
  // Without drop_last the tail is completed with the epoch's first rows: 8, 9, 10, 0.
  StreamRows keep(c, {4, 0, 1, 1, false, false});
  keep.next(), keep.next();
  EXPECT_EQ(rows_of(keep.next()), (std::vector<int64_t>{8, 9, 10, 0}));
  EXPECT_EQ(rows_of(keep.next()), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(keep.state().epoch, 1);
  // A text row reaches the worker unparsed, with file, row and line.
  StreamRows one(c, {1, 0, 1, 1, false, true});
  SourceRow row = one.next()[0];
  EXPECT_EQ(row.value, nullptr);
  EXPECT_NE(row.text.find("question 0"), std::string::npos);
  EXPECT_EQ(row.origin.where(), dir.file("rows.jsonl") + " row 0 (line 1)");
}

TEST(DataStream, ShuffleBufferIsSeededAndPartitions) {
  test::TempDir dir;
  DataConfig c = streaming_config(dir, 40, R"(, "buffer_size": 8)");
  auto epoch = [&](StreamRows& s) {
    std::vector<int64_t> all;
    for (int b = 0; b < 10; ++b)
      for (int64_t r : rows_of(s.next())) all.push_back(r);
    return all;
  };
  StreamRows a(c, {2, 0, 2, 5, true, true}), again(c, {2, 0, 2, 5, true, true}), b(c, {2, 1, 2, 5, true, true});
  std::vector<int64_t> first = epoch(a), mine = epoch(again), theirs = epoch(b);
  EXPECT_EQ(first, mine);  // deterministic
  std::set<int64_t> both(first.begin(), first.end());
  both.insert(theirs.begin(), theirs.end());
  EXPECT_EQ(both.size(), 40u);  // the two ranks partition the epoch
  std::vector<int64_t> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(first, sorted);    // shuffled
  EXPECT_NE(epoch(a), first);  // another order in epoch 1
  StreamRows other_seed(c, {2, 0, 2, 6, true, true});
  EXPECT_NE(epoch(other_seed), first);
}

TEST(DataStream, RestoreContinuesWithTheExactNextBatch) {
  test::TempDir dir;
  DataConfig c = streaming_config(dir, 23, R"(, "buffer_size": 5)");
  for (bool drop_last : {true, false}) {
    SamplerOptions o{3, 1, 2, 7, true, drop_last};  // global batch 6: 3 (drop_last) or 4 batches per epoch
    StreamRows straight(c, o);
    std::vector<std::vector<int64_t>> expected;
    for (int i = 0; i < 14; ++i) expected.push_back(rows_of(straight.next()));
    for (int cut : {1, 3, 4, 9}) {
      StreamRows first(c, o);
      for (int i = 0; i < cut; ++i) first.next();
      StreamRows resumed(c, o);
      resumed.restore(first.state());
      for (int i = cut; i < 14; ++i)
        EXPECT_EQ(rows_of(resumed.next()), expected[i]) << "drop_last " << drop_last << " cut " << cut;
    }
  }
  StreamRows s(c, {3, 0, 2, 7, true, true});
  EXPECT_NE(test::error_of([&] {
              s.restore({0, 5});
            }).find("does not fit this stream: an epoch holds only 3 micro-batches"),
            std::string::npos);
}

TEST(DataStream, MaxSamplesAndBadFiles) {
  test::TempDir dir;
  DataConfig c = streaming_config(dir, 10, R"(, "max_samples": 6)");
  StreamRows s(c, {4, 0, 1, 1, false, false});
  EXPECT_EQ(rows_of(s.next()), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(rows_of(s.next()), (std::vector<int64_t>{4, 5, 0, 1}));  // the stream ends at 6 rows
  // max_samples is a cap: above the row count every row is used, and the log says so.
  DataConfig more = streaming_config(dir, 10, R"(, "max_samples": 12)");
  testing::internal::CaptureStdout();
  StreamRows all(more, {5, 0, 1, 1, false, true});
  const std::string log = testing::internal::GetCapturedStdout();
  EXPECT_NE(log.find("using 10 of 10 rows (max_samples 12)"), std::string::npos) << log;
  EXPECT_EQ(rows_of(all.next()), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(rows_of(all.next()), (std::vector<int64_t>{5, 6, 7, 8, 9}));
  EXPECT_EQ(all.state().epoch, 0);
  testing::internal::CaptureStdout();
  StreamRows capped(c, {4, 0, 1, 1, false, false});
  EXPECT_NE(testing::internal::GetCapturedStdout().find("using 6 of 10 rows (max_samples 6)"), std::string::npos);
  DataConfig small = streaming_config(dir, 3);
  EXPECT_NE(test::error_of([&] {
              StreamRows x(small, {2, 0, 2, 1, false, true});
            }).find("fewer than one global micro-batch"),
            std::string::npos);
  test::write_text(dir.file("array.json"), "[]");
  DataConfig array = load_data_config(test::write_data_json(dir, dir.file("array.json"), R"(, "streaming": true)"));
  EXPECT_NE(test::error_of([&] {
              StreamRows x(array, {1, 0, 1, 1, false, true});
            }).find("streaming reads JSON Lines files"),
            std::string::npos);
}

TEST(DataStream, LoaderResumesAndRanksPartition) {
  test::TempDir dir;
  test::write_text(dir.file("rows.jsonl"), test::text_rows(30, 7));
  test::DataFixture f(test::write_data_json(dir, dir.file("rows.jsonl"),
                                            R"(, "streaming": true, "buffer_size": 6, "on_bad_sample": "skip")"));
  SamplerOptions o{2, 0, 1, 5, true, true};
  std::vector<at::Tensor> straight;
  {
    Loader loader = f.loader(o, 2);
    for (int i = 0; i < 20; ++i) straight.push_back(loader.next().input_ids);  // 15 batches per epoch: crosses one
    EXPECT_GT(loader.counters().skipped_bad, 0);
  }
  SamplerState saved;
  {
    Loader first = f.loader(o, 2);
    for (int i = 0; i < 7; ++i) EXPECT_TRUE(at::equal(first.next().input_ids, straight[i]));
    saved = first.state();
  }
  Loader resumed = f.loader(o, 0);
  resumed.restore(saved);
  for (int i = 7; i < 20; ++i) EXPECT_TRUE(at::equal(resumed.next().input_ids, straight[i])) << i;

  std::set<std::string> seen;
  int64_t total = 0;
  for (int64_t rank = 0; rank < 2; ++rank) {
    Loader loader = f.loader({3, rank, 2, 9, true, true}, 1);
    for (int i = 0; i < 4; ++i) {
      ThinkerInputs b = loader.next();
      for (int64_t r = 0; r < b.input_ids.size(0); ++r, ++total)
        seen.insert(f.builder->tokenizer().decode(std::vector<int32_t>(
            b.input_ids[r].data_ptr<int64_t>(), b.input_ids[r].data_ptr<int64_t>() + b.input_ids.size(1))));
    }
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), total);
}

TEST(DataStream, BadRowsNameFileRowAndLine) {
  test::TempDir dir;
  test::write_text(dir.file("rows.jsonl"), test::text_rows(3) + "\n{not json\n" + test::text_rows(4, 2));
  std::string rows = dir.file("rows.jsonl");
  test::DataFixture strict(test::write_data_json(dir, rows, R"(, "streaming": true)"));
  Loader loader = strict.loader({4, 0, 1, 1, false, true}, 1);
  std::string message = test::error_of([&] { loader.next(); });
  EXPECT_NE(message.find(rows + " row 3 (line 5): invalid JSON"), std::string::npos) << message;
  test::DataFixture lenient(test::write_data_json(dir, rows, R"(, "streaming": true, "on_bad_sample": "skip")"));
  Loader skipping = lenient.loader({4, 0, 1, 1, false, true}, 0);
  EXPECT_EQ(skipping.next().input_ids.size(0), 3);  // rows 0..2 and the invalid line
  EXPECT_EQ(skipping.next().input_ids.size(0), 2);  // rows 4..7 of which 5 and 7 say "robot"
  EXPECT_EQ(skipping.counters().skipped_bad, 3);
  EXPECT_EQ(skipping.counters().samples, 5);
}

}  // namespace omnitune
