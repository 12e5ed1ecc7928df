#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "omnitune/train/tensorboard.h"
#include "test_util.h"

namespace omnitune {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

// RFC 3720 (iSCSI), appendix B.4: CRC32C examples.
TEST(Crc32c, Rfc3720Vectors) {
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i)
    ascending.push_back(static_cast<char>(i)), descending.push_back(static_cast<char>(31 - i));
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(descending), 0x113FDB5Cu);
  const std::string read_pdu =
      bytes({0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
             0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
             0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(crc32c(read_pdu), 0xD9963A56u);
}

TEST(Crc32c, CheckValueAndContinuation) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the catalogued check value of CRC-32C
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("56789", crc32c("1234")), 0xE3069283u);
}

TEST(Crc32c, TfRecordMask) {
  EXPECT_EQ(masked_crc32c(""), 0xa282ead8u);  // crc 0: only the added constant
  // crc 0x8A9136AA rotated right by 15: (0x8A9136AA >> 15) | (0x36AA << 17) = 0x11522 | 0x6D540000.
  EXPECT_EQ(masked_crc32c(std::string(32, '\0')), 0x6D551522u + 0xa282ead8u);
}

TEST(TensorBoardWriter, EachWriterStartsItsOwnFile) {
  test::TempDir dir;
  const std::string log_dir = dir.file("runs/a");
  std::string first, second;
  {
    TensorBoardWriter a(log_dir), b(log_dir);  // same second, same process: distinct names
    first = a.path();
    second = b.path();
    a.add_scalar("loss", 1.5, 3, 100.0);
    a.flush();
  }
  EXPECT_NE(first, second);
  for (const auto& path : {first, second}) {
    std::string name = std::filesystem::path(path).filename().string();
    EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
    EXPECT_NE(name.find(".omnitune"), std::string::npos) << name;
  }
  // Record 1: 8-byte length, 4-byte masked crc, Event{wall_time, file_version = "brain.Event:2"}, 4-byte crc.
  std::ifstream in(second, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string version_event_tail = bytes({0x1A, 13}) + "brain.Event:2";
  ASSERT_EQ(data.size(), 8 + 4 + 9 + version_event_tail.size() + 4);
  EXPECT_EQ(static_cast<uint8_t>(data[0]), 9 + version_event_tail.size());
  EXPECT_EQ(data.substr(8 + 4 + 9, version_event_tail.size()), version_event_tail);
  EXPECT_GT(std::filesystem::file_size(first), data.size());  // the scalar went after its own header
}

TEST(TensorBoardWriter, ErrorsNameTheDirectoryOrFile) {
  test::TempDir dir;
  test::write_text(dir.file("plain"), "x");
  std::string message = test::error_of([&] { TensorBoardWriter w(dir.file("plain/logs")); });
  EXPECT_NE(message.find(dir.file("plain/logs")), std::string::npos) << message;
  TensorBoardWriter w(dir.file("ok"));
  message = test::error_of([&] { w.add_scalar("", 1.0, 0); });
  EXPECT_NE(message.find(w.path()), std::string::npos) << message;
}

}  // namespace
}  // namespace omnitune
