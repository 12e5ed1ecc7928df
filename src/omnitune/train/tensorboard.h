// train/tensorboard: scalar summaries in TensorBoard's event file format, written without TensorFlow
// or protobuf: TFRecord framing (length, masked CRC32C of the length, Event bytes, masked CRC32C of
// the bytes) around Event protos encoded by hand. Each writer starts a new file in its directory, so a
// resumed run adds a file next to the earlier ones and TensorBoard reads them in name (= time) order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace omnitune {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI (RFC 3720) and TFRecord use it.
// `crc` continues an earlier checksum: crc32c(b, crc32c(a)) == crc32c(a + b).
uint32_t crc32c(std::string_view data, uint32_t crc = 0);
// TFRecord's masked form: rotate right by 15, add 0xa282ead8.
uint32_t masked_crc32c(std::string_view data);

// Seconds since the Unix epoch, with sub-second precision.
double unix_time_now();

class TensorBoardWriter {
 public:
  // Creates `log_dir` (and parents) and the file events.out.tfevents.<unix time>.<hostname>.<pid>.omnitune
  // (".<n>" appended if that name is taken), whose first record is the file_version event.
  // Error naming the directory or file when either cannot be created.
  explicit TensorBoardWriter(const std::string& log_dir);
  ~TensorBoardWriter();  // flushes; a failure there is logged, not thrown
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Queues Event{wall_time, step, summary{value{tag, simple_value}}}; simple_value is a float32, so
  // `value` is rounded to float (NaN and infinities are kept).
  void add_scalar(const std::string& tag, double value, int64_t step, double wall_time = unix_time_now());
  // Appends the queued records to the file (Error naming the file on a failed write).
  void flush();
  // Marks a restart at `step` (SessionLog START): TensorBoard drops the events of earlier files from that
  // step on, so a run resumed from an older checkpoint shows each step once.
  void restart_at(int64_t step);

  const std::string& path() const { return path_; }

 private:
  void add_event(const std::string& event);

  std::string path_;
  std::string pending_;
  int fd_ = -1;
};

}  // namespace omnitune
