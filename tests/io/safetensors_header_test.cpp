// Malformed safetensors files: every case gives an Error naming the file (and the tensor), never a crash.
#include "omnitune/io/safetensors_header.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace omnitune {

using test::error_of;

namespace {
// u64 length + header text + `data_bytes` zero bytes.
std::string file_image(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

std::string parse_error(const std::string& image) {
  return error_of(
      [&] { parse_safetensors(reinterpret_cast<const uint8_t*>(image.data()), image.size(), "m.safetensors"); });
}
}  // namespace

TEST(SafetensorsHeader, ParsesValidHeader) {
  std::string image = file_image(
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[24,28]},)"
      R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"e":{"dtype":"I64","shape":[0],"data_offsets":[28,28]}})",
      28);
  SafetensorsHeader h = parse_safetensors(reinterpret_cast<const uint8_t*>(image.data()), image.size(), "m");
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.tensors[0].name, "a");  // sorted by offset
  EXPECT_EQ(h.tensors[0].dtype, DType::kF32);
  EXPECT_EQ(h.tensors[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(h.tensors[1].name, "b");
  EXPECT_EQ(h.tensors[2].numel(), 0);
  EXPECT_EQ(h.metadata.at("format"), "pt");
}

TEST(SafetensorsHeader, TruncatedAndShortFiles) {
  EXPECT_EQ(parse_error("abc"),
            "m.safetensors: not a safetensors file: 3 bytes, shorter than the 8-byte header length");
  std::string image = file_image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 16);
  EXPECT_NE(parse_error(image.substr(0, 20)).find("header length 55 runs past the end of the file (20 bytes"),
            std::string::npos)
      << parse_error(image.substr(0, 20));
  EXPECT_EQ(parse_error(image.substr(0, image.size() - 4)),
            "m.safetensors: tensor 'a': data_offsets [0, 16] run past the end of the data (12 bytes; is the file "
            "truncated?)");
}

TEST(SafetensorsHeader, HeaderLengthPastEof) {
  std::string image = file_image("{}", 0);
  image[7] = '\x7f';  // an absurd length
  EXPECT_NE(parse_error(image).find("runs past the end of the file"), std::string::npos);
}

TEST(SafetensorsHeader, BadJson) {
  EXPECT_NE(parse_error(file_image("{\"a\": ", 0)).find("m.safetensors: header is not valid JSON"), std::string::npos);
  EXPECT_EQ(parse_error(file_image("[1, 2]", 0)), "m.safetensors: header must be a JSON object");
  EXPECT_EQ(
      parse_error(file_image(
          R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
          4)),
      "m.safetensors: tensor 'a' appears twice in the header");
  EXPECT_EQ(parse_error(file_image(R"({"__metadata__":{"k":1}})", 0)),
            "m.safetensors: __metadata__ value of 'k' must be a string");
}

TEST(SafetensorsHeader, BadEntries) {
  EXPECT_EQ(parse_error(file_image(R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4)),
            "m.safetensors: tensor 'w': unknown dtype 'F33' (did you mean 'F32'?)");
  EXPECT_EQ(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)),
            "m.safetensors: tensor 'w': shape entry must be a non-negative integer, got -1");
  EXPECT_EQ(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4)),
            "m.safetensors: tensor 'w': shape and dtype need 8 bytes but data_offsets [0, 4] hold 4");
  EXPECT_EQ(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8)),
            "m.safetensors: tensor 'w': data_offsets [8, 4] has begin after end");
  EXPECT_EQ(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}})", 4)),
            "m.safetensors: tensor 'w': unknown field 'extra'");
  EXPECT_EQ(parse_error(file_image(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4)),
            "m.safetensors: tensor 'w': missing or non-string 'dtype'");
  EXPECT_NE(parse_error(file_image(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8))
                .find("more than 2^64"),
            std::string::npos);
}

TEST(SafetensorsHeader, OutOfRangeAndOverlappingOffsets) {
  EXPECT_EQ(
      parse_error(file_image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 8)),
      "m.safetensors: tensor 'w': data_offsets [4, 12] run past the end of the data (8 bytes; is the file truncated?)");
  EXPECT_EQ(
      parse_error(file_image(
          R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          12)),
      "m.safetensors: tensors 'x' [0, 8) and 'y' [4, 12) overlap");
}

TEST(SafetensorsHeader, EveryDataByteBelongsToATensor) {
  // As the reference library (its "metadata incomplete buffer" and "invalid offset" errors).
  EXPECT_EQ(parse_error(file_image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 7)),
            "m.safetensors: 3 bytes after the last tensor's data belong to no tensor (the data is 7 bytes, the tensors "
            "cover 4)");
  EXPECT_EQ(
      parse_error(file_image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
      "m.safetensors: 4 bytes of the data before tensor 'w' [4, 8) belong to no tensor (a gap in the data offsets)");
  EXPECT_EQ(
      parse_error(file_image(
          R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
          12)),
      "m.safetensors: 4 bytes of the data before tensor 'y' [8, 12) belong to no tensor (a gap in the data offsets)");
  EXPECT_NE(parse_error(file_image("{}", 1)).find("1 bytes after the last tensor's data"), std::string::npos);
}

TEST(SafetensorsHeader, BuildThenParseRoundTrips) {
  std::vector<TensorEntry> entries = {{"x", DType::kBF16, {3, 1}, 0, 0}, {"y", DType::kBool, {}, 0, 0}};
  std::string header = build_safetensors_header(entries, {{"k", "v"}});
  EXPECT_EQ((header.size() - 8) % 8, 0u);
  std::string image = header + std::string(7, '\1');
  SafetensorsHeader h = parse_safetensors(reinterpret_cast<const uint8_t*>(image.data()), image.size(), "r");
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(h.tensors[0].end, 6u);
  EXPECT_EQ(h.tensors[1].begin, 6u);
  EXPECT_EQ(h.tensors[1].shape.size(), 0u);
  EXPECT_EQ(h.data_start, header.size());
  EXPECT_EQ(h.metadata.at("k"), "v");
}

}  // namespace omnitune
