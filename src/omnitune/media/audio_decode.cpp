// decode_audio: FFmpeg demux + decode of the best audio stream, sample format conversion to float32
// with libswresample (same rate, same channel layout: a pure format conversion), then a float32
// average of the channels.
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>

#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/media/audio.h"
#include "omnitune/media/ffmpeg_util.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libswresample/swresample.h>
}

namespace omnitune {
namespace {

struct SwrFreer {
  void operator()(SwrContext* swr) const { swr_free(&swr); }
};

// Converts decoded frames of any sample format to planar float32 and appends their channel average.
// The converter is rebuilt whenever the frame layout or format changes (rare, but legal in a stream).
class MonoMixer {
 public:
  explicit MonoMixer(const std::string& path) : path_(path) {}
  ~MonoMixer() { av_channel_layout_uninit(&layout_); }
  MonoMixer(const MonoMixer&) = delete;
  MonoMixer& operator=(const MonoMixer&) = delete;

  void add(const AVFrame& frame) {
    if (frame.nb_samples <= 0) return;
    if (rate_ == 0) rate_ = frame.sample_rate;
    if (frame.sample_rate != rate_)
      throw Error(cat("audio file '", path_, "': the sample rate changes inside the stream (", rate_, " Hz, then ",
                      frame.sample_rate, " Hz)"));
    if (!swr_ || frame.format != format_ || av_channel_layout_compare(&frame.ch_layout, &layout_) != 0)
      configure(frame);
    convert(const_cast<const uint8_t**>(frame.extended_data), frame.nb_samples);
  }

  // Drains the converter (nothing is buffered for a same-rate conversion, but be safe).
  void finish() {
    if (swr_) convert(nullptr, 0);
  }

  std::vector<float>& samples() { return samples_; }
  int sample_rate() const { return rate_; }

 private:
  void configure(const AVFrame& frame) {
    finish();
    swr_.reset();
    av_channel_layout_uninit(&layout_);
    if (frame.ch_layout.nb_channels <= 0) throw Error(cat("audio file '", path_, "': decoded audio has no channels"));
    if (int rc = av_channel_layout_copy(&layout_, &frame.ch_layout); rc < 0)
      throw Error(cat("audio file '", path_, "': ", av_error_text(rc)));
    format_ = frame.format;
    SwrContext* swr = nullptr;
    int rc = swr_alloc_set_opts2(&swr, &layout_, AV_SAMPLE_FMT_FLTP, frame.sample_rate, &layout_,
                                 static_cast<AVSampleFormat>(frame.format), frame.sample_rate, 0, nullptr);
    swr_.reset(swr);
    if (rc >= 0) rc = swr_init(swr);
    if (rc < 0) throw Error(cat("audio file '", path_, "': cannot convert its samples to float: ", av_error_text(rc)));
  }

  void convert(const uint8_t** in, int count) {
    const int channels = layout_.nb_channels;
    const int capacity = swr_get_out_samples(swr_.get(), count);
    if (capacity <= 0) return;
    planes_.resize(static_cast<size_t>(channels) * capacity);
    std::vector<uint8_t*> out(channels);
    for (int c = 0; c < channels; ++c)
      out[c] = reinterpret_cast<uint8_t*>(planes_.data() + static_cast<size_t>(c) * capacity);
    const int done = swr_convert(swr_.get(), out.data(), capacity, in, count);
    if (done < 0) throw Error(cat("audio file '", path_, "': sample conversion failed: ", av_error_text(done)));
    // librosa.to_mono: float32 sum over the channels in order, divided by the channel count.
    const size_t start = samples_.size();
    samples_.resize(start + done);
    const float divisor = static_cast<float>(channels);
    for (int i = 0; i < done; ++i) {
      float sum = planes_[i];
      for (int c = 1; c < channels; ++c) sum += planes_[static_cast<size_t>(c) * capacity + i];
      samples_[start + i] = channels == 1 ? sum : sum / divisor;
    }
  }

  std::string path_;
  std::unique_ptr<SwrContext, SwrFreer> swr_;
  AVChannelLayout layout_{};
  int format_ = -1;
  int rate_ = 0;
  std::vector<float> planes_;
  std::vector<float> samples_;
};

}  // namespace

AudioClip decode_audio(const std::string& path) {
  // FFmpeg would otherwise print warnings (e.g. "estimating duration from bitrate") for ordinary files;
  // real failures reach the caller as Errors.
  static std::once_flag quiet;
  std::call_once(quiet, [] {
    if (av_log_get_level() > AV_LOG_ERROR) av_log_set_level(AV_LOG_ERROR);
  });

  require_regular_file(path, "audio file");
  AVFormatContext* raw_format = nullptr;
  if (int rc = avformat_open_input(&raw_format, path.c_str(), nullptr, nullptr); rc < 0)
    throw Error(cat("cannot open audio file '", path, "': ", av_error_text(rc)));
  std::unique_ptr<AVFormatContext, FormatCloser> format(raw_format);
  if (int rc = avformat_find_stream_info(format.get(), nullptr); rc < 0)
    throw Error(cat("cannot read audio file '", path, "': ", av_error_text(rc)));

  const AVCodec* codec = nullptr;
  const int stream_index = av_find_best_stream(format.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
  if (stream_index == AVERROR_STREAM_NOT_FOUND) throw Error(cat("no audio stream in '", path, "'"));
  if (stream_index < 0 || !codec)
    throw Error(cat("no decoder for the audio stream of '", path,
                    "': ", stream_index < 0 ? av_error_text(stream_index) : std::string("unsupported codec")));
  for (unsigned i = 0; i < format->nb_streams; ++i)
    if (static_cast<int>(i) != stream_index) format->streams[i]->discard = AVDISCARD_ALL;

  std::unique_ptr<AVCodecContext, CodecFreer> decoder(avcodec_alloc_context3(codec));
  if (!decoder) throw Error(cat("out of memory decoding '", path, "'"));
  if (int rc = avcodec_parameters_to_context(decoder.get(), format->streams[stream_index]->codecpar); rc < 0)
    throw Error(cat("cannot set up the audio decoder for '", path, "': ", av_error_text(rc)));
  decoder->pkt_timebase = format->streams[stream_index]->time_base;
  if (int rc = avcodec_open2(decoder.get(), codec, nullptr); rc < 0)
    throw Error(cat("cannot open the ", codec->name, " decoder for '", path, "': ", av_error_text(rc)));

  std::unique_ptr<AVPacket, PacketFreer> packet(av_packet_alloc());
  std::unique_ptr<AVFrame, FrameFreer> frame(av_frame_alloc());
  if (!packet || !frame) throw Error(cat("out of memory decoding '", path, "'"));
  MonoMixer mixer(path);

  auto fail = [&](int rc) -> Error {
    return Error(cat("cannot decode audio file '", path, "' (", codec->name, "): ", av_error_text(rc)));
  };
  // Takes every frame the decoder has ready; true once it reports end of stream.
  auto drain = [&]() {
    while (true) {
      const int rc = avcodec_receive_frame(decoder.get(), frame.get());
      if (rc == AVERROR(EAGAIN)) return false;
      if (rc == AVERROR_EOF) return true;
      if (rc < 0) throw fail(rc);
      mixer.add(*frame);
      av_frame_unref(frame.get());
    }
  };

  while (true) {
    const int rc = av_read_frame(format.get(), packet.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) throw Error(cat("cannot read audio file '", path, "': ", av_error_text(rc)));
    if (packet->stream_index == stream_index) {
      int sent = avcodec_send_packet(decoder.get(), packet.get());
      if (sent == AVERROR(EAGAIN)) {
        drain();
        sent = avcodec_send_packet(decoder.get(), packet.get());
      }
      if (sent < 0) {
        av_packet_unref(packet.get());
        throw fail(sent);
      }
      drain();
    }
    av_packet_unref(packet.get());
  }
  if (int rc = avcodec_send_packet(decoder.get(), nullptr); rc < 0 && rc != AVERROR_EOF) throw fail(rc);
  drain();
  mixer.finish();

  if (mixer.samples().empty()) throw Error(cat("audio file '", path, "' decodes to no samples"));
  // A float file may hold NaN or infinities: they would turn the features, then the model, into NaN.
  const std::vector<float>& s = mixer.samples();
  for (size_t i = 0; i < s.size(); ++i)
    if (!std::isfinite(s[i]))
      throw Error(cat("audio file '", path, "': sample ", i, " (", static_cast<double>(i) / mixer.sample_rate(),
                      " s) is ", s[i], "; only finite samples can be featurised"));
  return AudioClip{std::move(mixer.samples()), mixer.sample_rate()};
}

}  // namespace omnitune
