#include "omnitune/train/tensorboard.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "omnitune/core/error.h"
#include "omnitune/core/log.h"

namespace omnitune {

namespace {

constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

// Protobuf wire format: little-endian fixed-width fields, base-128 varints, (field << 3 | type) keys.
void put_fixed(std::string& out, uint64_t bits, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };
void put_key(std::string& out, int field, WireType type) { put_varint(out, static_cast<uint64_t>(field << 3 | type)); }
void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// Event{wall_time = 1, step = 2, ...}; proto3 leaves fields at their default value out.
std::string event_header(double wall_time, int64_t step) {
  std::string e;
  if (uint64_t bits = std::bit_cast<uint64_t>(wall_time); bits != 0) {
    put_key(e, 1, kFixed64);
    put_fixed(e, bits, 8);
  }
  if (step != 0) {
    put_key(e, 2, kVarint);
    put_varint(e, static_cast<uint64_t>(step));
  }
  return e;
}

std::string hostname() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

uint32_t crc32c(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (unsigned char byte : data) crc = kCrc32cTable[(crc ^ byte) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(std::string_view data) {
  const uint32_t crc = crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TensorBoardWriter::TensorBoardWriter(const std::string& log_dir) {
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  if (ec || !std::filesystem::is_directory(log_dir))
    throw Error(cat("TensorBoard log dir '", log_dir, "': cannot create it", ec ? ": " + ec.message() : std::string()));
  const double now = unix_time_now();
  const std::string base = (std::filesystem::path(log_dir) / cat("events.out.tfevents.", static_cast<int64_t>(now), ".",
                                                                 hostname(), ".", getpid(), ".omnitune"))
                               .string();
  for (int n = 0; fd_ < 0; ++n) {  // a second writer in the same second and process gets ".1", ...
    path_ = n == 0 ? base : cat(base, ".", n);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0 && errno != EEXIST)
      throw Error(cat(path_, ": cannot create the TensorBoard event file: ", std::strerror(errno)));
  }
  std::string e = event_header(now, 0);
  put_bytes(e, 3, "brain.Event:2");  // file_version
  add_event(e);
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  try {
    flush();
  } catch (const Error& e) {
    log_warn(e.what());
  }
  ::close(fd_);
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step, double wall_time) {
  if (tag.empty()) throw Error(path_ + ": a TensorBoard scalar needs a non-empty tag");
  std::string v;  // Summary.Value{tag = 1, simple_value = 2}
  put_bytes(v, 1, tag);
  put_key(v, 2, kFixed32);
  put_fixed(v, std::bit_cast<uint32_t>(static_cast<float>(value)), 4);
  std::string summary;  // Summary{repeated Value value = 1}
  put_bytes(summary, 1, v);
  std::string e = event_header(wall_time, step);
  put_bytes(e, 5, summary);  // Event.summary
  add_event(e);
}

void TensorBoardWriter::restart_at(int64_t step) {
  std::string log;  // SessionLog{status = 1: START}
  put_key(log, 1, kVarint);
  put_varint(log, 1);
  std::string e = event_header(unix_time_now(), step);
  put_bytes(e, 7, log);  // Event.session_log
  add_event(e);
  flush();
}

void TensorBoardWriter::add_event(const std::string& event) {
  std::string length;
  put_fixed(length, event.size(), 8);
  pending_ += length;
  put_fixed(pending_, masked_crc32c(length), 4);
  pending_ += event;
  put_fixed(pending_, masked_crc32c(event), 4);
}

void TensorBoardWriter::flush() {
  size_t done = 0;
  while (done < pending_.size()) {
    ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      pending_.erase(0, done);
      throw Error(cat(path_, ": cannot write TensorBoard events: ", n < 0 ? std::strerror(errno) : "nothing written"));
    }
    done += static_cast<size_t>(n);
  }
  pending_.clear();
}

}  // namespace omnitune
