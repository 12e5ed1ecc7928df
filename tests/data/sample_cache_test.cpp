#include "omnitune/data/sample_cache.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "data_fixture.h"

namespace omnitune {

namespace {

// Rows with an image, an audio clip, both, and text only.
std::string media_rows() {
  return R"({"messages": [{"role": "user", "content": "<image>What?"}, {"role": "assistant", "content": "A gradient."}], "images": ["g.bmp"]}
{"messages": [{"role": "user", "content": "<audio>Listen."}, {"role": "assistant", "content": "A tone."}], "audios": ["t.wav"]}
{"messages": [{"role": "user", "content": "<image><audio>Both?"}, {"role": "assistant", "content": "Yes."}], "images": ["g.bmp"], "audios": ["t.wav"]}
{"messages": [{"role": "user", "content": "Text."}, {"role": "assistant", "content": "Only."}]}
)";
}

struct CacheSetup {
  test::TempDir dir;
  std::string rows;
  CacheSetup() : rows(dir.file("rows.jsonl")) {
    test::write_bmp(dir.file("g.bmp"), 90, 70);
    test::write_wav(dir.file("t.wav"), 1.3);
    test::write_text(rows, media_rows());
  }
  std::string data_json(const std::string& basic = "", const std::string& name = "data.json") const {
    return test::write_data_json(dir, rows, R"(, "cache_dir": ")" + dir.file("cache") + "\"" + basic, "", name);
  }
};

// Every micro-batch of one epoch (micro-batch 1, file order).
std::vector<ThinkerInputs> epoch(const test::DataFixture& f, LoaderCounters* counters = nullptr) {
  Loader loader = f.loader({1, 0, 1, 1, false, true}, 0);
  std::vector<ThinkerInputs> out;
  for (int i = 0; i < 4; ++i) out.push_back(loader.next());
  if (counters) *counters = loader.counters();
  return out;
}

void expect_equal(const ThinkerInputs& a, const ThinkerInputs& b, const std::string& what) {
  auto same = [&](const at::Tensor& x, const at::Tensor& y, const char* name) {
    ASSERT_EQ(x.defined(), y.defined()) << what << " " << name;
    if (x.defined()) {
      EXPECT_TRUE(at::equal(x, y)) << what << " " << name;
    }
  };
  same(a.input_ids, b.input_ids, "input_ids");
  same(a.labels, b.labels, "labels");
  same(a.attention_mask, b.attention_mask, "attention_mask");
  same(a.pixel_values, b.pixel_values, "pixel_values");
  same(a.image_grid_thw, b.image_grid_thw, "image_grid_thw");
  same(a.input_features, b.input_features, "input_features");
  same(a.feature_attention_mask, b.feature_attention_mask, "feature_attention_mask");
}

std::vector<std::string> cache_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(DataCache, HitsGiveTheFreshSamples) {
  CacheSetup s;
  test::DataFixture uncached(test::write_data_json(s.dir, s.rows, "", "", "plain.json"));
  test::DataFixture cached(s.data_json());
  std::vector<ThinkerInputs> fresh = epoch(uncached);
  LoaderCounters first, second;
  std::vector<ThinkerInputs> built = epoch(cached, &first), reused = epoch(cached, &second);
  EXPECT_EQ(first.cache.misses, 4);
  EXPECT_EQ(first.cache.hits, 0);
  EXPECT_EQ(second.cache.hits, 4);
  EXPECT_EQ(second.cache.misses, 0);
  EXPECT_EQ(cache_files(s.dir.file("cache")).size(), 4u);
  for (int i = 0; i < 4; ++i) {
    expect_equal(built[i], fresh[i], "built");
    expect_equal(reused[i], fresh[i], "reused");
  }
}

TEST(DataCache, MediaAndPreprocessingChangesMiss) {
  CacheSetup s;
  test::DataFixture f(s.data_json());
  epoch(f);
  LoaderCounters c;
  // A touched audio file: the two rows that use it are rebuilt.
  auto wav = s.dir.file("t.wav");
  std::filesystem::last_write_time(wav, std::filesystem::last_write_time(wav) + std::chrono::seconds(5));
  epoch(f, &c);
  EXPECT_EQ(c.cache.hits, 2);
  EXPECT_EQ(c.cache.misses, 2);
  // Another preprocessing key: every row is rebuilt.
  for (const std::string basic : {R"(, "cutoff_len": 2000)", R"(, "train_on_prompt": true)"}) {
    test::DataFixture changed(s.data_json(basic, "changed.json"));
    epoch(changed, &c);
    EXPECT_EQ(c.cache.misses, 4) << basic;
  }
  DataConfig pixels = f.config;
  pixels.preprocess.image_max_pixels = 4096;
  SampleCache other(pixels), same(f.config);
  RowOrigin origin{std::make_shared<const FileStamp>(*stamp_file(s.rows)), 0, 1};
  RowSample row;
  row.images = {s.dir.file("g.bmp")};
  EXPECT_NE(other.entry(origin, row)->path, same.entry(origin, row)->path);
  EXPECT_EQ(same.entry(origin, row)->path, SampleCache(f.config).entry(origin, row)->path);
  origin.row = 1;
  EXPECT_NE(same.entry(origin, row)->path, SampleCache(f.config).entry({origin.file, 0, 1}, row)->path);
}

TEST(DataCache, CorruptEntriesAreRebuilt) {
  CacheSetup s;
  test::DataFixture f(s.data_json());
  std::vector<ThinkerInputs> fresh = epoch(f);
  std::vector<std::string> files = cache_files(s.dir.file("cache"));
  ASSERT_EQ(files.size(), 4u);
  std::filesystem::resize_file(files[0], std::filesystem::file_size(files[0]) / 2);  // truncated
  {
    std::fstream flip(files[1], std::ios::in | std::ios::out | std::ios::binary);  // one byte of tensor data
    flip.seekg(-3, std::ios::end);
    char byte = static_cast<char>(flip.get() ^ 0x40);
    flip.seekp(-3, std::ios::end);
    flip.put(byte);
  }
  test::write_text(files[2], "garbage");
  LoaderCounters c;
  std::vector<ThinkerInputs> again = epoch(f, &c);
  EXPECT_EQ(c.cache.corrupt, 3);
  EXPECT_EQ(c.cache.hits, 1);
  for (int i = 0; i < 4; ++i) expect_equal(again[i], fresh[i], "rebuilt");
  epoch(f, &c);
  EXPECT_EQ(c.cache.hits, 4);  // rewritten
}

TEST(DataCache, OverwriteCacheRebuildsOncePerRun) {
  CacheSetup s;
  epoch(test::DataFixture(s.data_json()));
  test::DataFixture overwrite(s.data_json(R"(, "overwrite_cache": true)", "overwrite.json"));
  // One loader = one run: entries of the earlier run are rebuilt, its own are reused in the next epoch.
  Loader loader = overwrite.loader({1, 0, 1, 1, false, true}, 0);
  for (int i = 0; i < 8; ++i) loader.next();
  EXPECT_EQ(loader.counters().cache.misses, 4);
  EXPECT_EQ(loader.counters().cache.hits, 4);
}

TEST(DataCache, ConcurrentWritersNeverTearAnEntry) {
  CacheSetup s;
  test::DataFixture f(s.data_json());
  RowSample row = read_row(nlohmann::json::parse(media_rows().substr(0, media_rows().find('\n'))), f.config, "row 0");
  Sample sample = f.builder->build(row, "row 0");
  RowOrigin origin{std::make_shared<const FileStamp>(*stamp_file(s.rows)), 0, 1};
  SampleCache cache(f.config);
  SampleCache::Entry entry = *cache.entry(origin, row);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 15; ++i) cache.store(entry, sample);
    });
  std::atomic<int64_t> loaded{0};
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i)
        if (std::optional<Sample> got = cache.load(entry)) {
          EXPECT_TRUE(at::equal(got->image_pixels.at(0), sample.image_pixels[0]));
          ++loaded;
        }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(cache.counters().corrupt, 0);
  EXPECT_EQ(cache.counters().write_failures, 0);
  EXPECT_GT(loaded + cache.counters().misses, 0);
  EXPECT_TRUE(cache.load(entry).has_value());
  EXPECT_EQ(cache_files(s.dir.file("cache")).size(), 1u);  // no temp file left behind
}

}  // namespace omnitune
