#include "omnitune/data/collate.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "data_fixture.h"

namespace omnitune {

namespace {
Sample text_sample(int64_t length, int64_t first_id) {
  Sample s;
  for (int64_t i = 0; i < length; ++i) {
    s.input_ids.push_back(first_id + i);
    s.labels.push_back(i < length / 2 ? -100 : first_id + i);
  }
  return s;
}
}  // namespace

TEST(DataCollate, FakeMediaGoMaskedAfterTheShortestRow) {
  test::TempDir dir;
  test::write_text(dir.file("rows.jsonl"), test::text_rows(1));
  test::DataFixture f(test::write_data_json(dir, dir.file("rows.jsonl")));
  FakeMedia fake = make_fake_media(*f.builder);
  // The seed's fake media: a 64x64 white image (grid 1x4x4: 4 tokens) and 0.1 s of silence (10 mel frames).
  EXPECT_EQ(fake.image_grid, (std::array<int64_t, 3>{1, 4, 4}));
  EXPECT_EQ(fake.image_pixels.sizes(), (at::IntArrayRef{16, 1536}));
  EXPECT_TRUE(at::allclose(fake.image_pixels, at::ones_like(fake.image_pixels)));  // white: (1 - 0.5) / 0.5
  EXPECT_EQ(fake.image_tokens.size(), 6u);
  EXPECT_EQ(fake.audio_features.sizes(), (at::IntArrayRef{128, 10}));
  EXPECT_EQ(fake.audio_tokens.front(), *f.builder->tokenizer().token_to_id("<|audio_start|>"));

  std::vector<Sample> text = {text_sample(7, 100), text_sample(5, 200), text_sample(5, 300)};
  ThinkerInputs plain = collate(text, 0, 8), b = collate(text, 0, 8, &fake);
  const int64_t extra = static_cast<int64_t>(fake.image_tokens.size() + fake.audio_tokens.size());
  EXPECT_EQ(b.input_ids.size(1), 16);  // row 1: 5 + 10 fake tokens, padded to 16
  at::Tensor appended = b.input_ids[1].slice(0, 5, 5 + extra);
  std::vector<int64_t> expected = fake.image_tokens;
  expected.insert(expected.end(), fake.audio_tokens.begin(), fake.audio_tokens.end());
  EXPECT_TRUE(at::equal(appended, at::tensor(expected, at::kLong)));
  EXPECT_EQ(b.attention_mask.sum().item<int64_t>(), plain.attention_mask.sum().item<int64_t>());  // fake tokens masked
  EXPECT_EQ(plain.input_ids.size(1), 8);
  EXPECT_TRUE(at::equal(b.labels.slice(1, 0, 8), plain.labels));
  EXPECT_TRUE((b.labels.slice(1, 8) == -100).all().item<bool>());
  EXPECT_EQ((b.labels != -100).sum().item<int64_t>(), (plain.labels != -100).sum().item<int64_t>());
  EXPECT_TRUE(at::equal(b.input_ids.slice(1, 0, 5), plain.input_ids.slice(1, 0, 5)));
  EXPECT_TRUE(at::equal(b.pixel_values, fake.image_pixels));
  EXPECT_EQ(b.image_grid_thw.sizes(), (at::IntArrayRef{1, 3}));
  EXPECT_EQ(b.input_features.sizes(), (at::IntArrayRef{1, 128, 10}));
  EXPECT_EQ(b.feature_attention_mask.sum().item<int64_t>(), 10);

  // A micro-batch with an image (but no audio) gets only the fake audio.
  text[0].image_pixels = {fake.image_pixels.clone()};
  text[0].image_grids = {fake.image_grid};
  ThinkerInputs with_image = collate(text, 0, 8, &fake);
  EXPECT_EQ(with_image.image_grid_thw.size(0), 1);
  EXPECT_EQ(with_image.input_features.size(0), 1);
  EXPECT_TRUE(at::equal(with_image.input_ids[1].slice(0, 5, 5 + static_cast<int64_t>(fake.audio_tokens.size())),
                        at::tensor(fake.audio_tokens, at::kLong)));
}

}  // namespace omnitune
