#include "omnitune/media/video_decode.h"

#include <cstring>
#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include "omnitune/core/error.h"
#include "omnitune/core/files.h"
#include "omnitune/media/ffmpeg_util.h"

namespace omnitune {

namespace {

struct ScalerFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

// An opened file and the index of its first real video stream.
struct OpenedVideo {
  std::unique_ptr<AVFormatContext, FormatCloser> format;
  int stream = -1;
  AVStream* video() const { return format->streams[stream]; }
};

OpenedVideo open_video(const std::string& path) {
  OpenedVideo out;
  require_regular_file(path, "video file");
  AVFormatContext* raw = nullptr;
  int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (rc < 0) throw Error(cat(path, ": cannot open video (", av_error_text(rc), ")"));
  out.format.reset(raw);
  rc = avformat_find_stream_info(raw, nullptr);
  if (rc < 0) throw Error(cat(path, ": cannot read the video's streams (", av_error_text(rc), ")"));
  for (unsigned i = 0; i < raw->nb_streams; ++i) {
    const AVStream* s = raw->streams[i];
    if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(s->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      out.stream = static_cast<int>(i);
      break;
    }
  }
  if (out.stream < 0) throw Error(cat(path, ": no video stream"));
  return out;
}

// ticks * time_base in seconds, rounded once as Python's float(Fraction) does when the product is exact.
double seconds(int64_t ticks, AVRational time_base) {
  const __int128 numerator = static_cast<__int128>(ticks) * time_base.num;
  constexpr __int128 exact = __int128(1) << 53;
  if (numerator < exact && numerator > -exact && time_base.den < (int64_t(1) << 53))
    return static_cast<double>(static_cast<int64_t>(numerator)) / static_cast<double>(time_base.den);
  return static_cast<double>(ticks) * av_q2d(time_base);
}

int sws_colorspace(AVColorSpace space) {
  switch (space) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M: return SWS_CS_ITU601;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    default: return SWS_CS_DEFAULT;
  }
}

bool full_range(const AVFrame* frame) {
  switch (frame->format) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ411P: return true;
    default: return frame->color_range == AVCOL_RANGE_JPEG;
  }
}

// Converts decoded frames to RGB24 at the size of the first one.
class RgbConverter {
 public:
  ~RgbConverter() {
    if (buffer_[0]) av_freep(&buffer_[0]);
  }

  RgbImage convert(const AVFrame* frame) {
    if (width_ == 0) {
      width_ = frame->width;
      height_ = frame->height;
      if (width_ <= 0 || height_ <= 0) throw Error(cat("frame has no pixels (", width_, "x", height_, ")"));
      const int rc = av_image_alloc(buffer_, linesize_, width_, height_, AV_PIX_FMT_RGB24, 64);
      if (rc < 0) throw Error(cat("cannot allocate an RGB frame (", av_error_text(rc), ")"));
    }
    // sws_getCachedContext frees the context it is given when it makes a new one.
    SwsContext* previous = scaler_.release();
    SwsContext* next =
        sws_getCachedContext(previous, frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), width_,
                             height_, AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!next)
      throw Error(
          cat("cannot convert ", av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format)), " frames to RGB"));
    scaler_.reset(next);
    // Set every time: a recreated context may reuse the old address, and this is cheap next to decoding.
    sws_setColorspaceDetails(next, sws_getCoefficients(sws_colorspace(frame->colorspace)), full_range(frame) ? 1 : 0,
                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    sws_scale(next, frame->data, frame->linesize, 0, frame->height, buffer_, linesize_);
    RgbImage image;
    image.width = width_;
    image.height = height_;
    image.pixels.resize(static_cast<size_t>(width_) * height_ * 3);
    for (int y = 0; y < height_; ++y)
      std::memcpy(&image.pixels[static_cast<size_t>(y) * width_ * 3],
                  buffer_[0] + static_cast<ptrdiff_t>(y) * linesize_[0], static_cast<size_t>(width_) * 3);
    return image;
  }

 private:
  std::unique_ptr<SwsContext, ScalerFree> scaler_;
  int width_ = 0, height_ = 0;
  uint8_t* buffer_[4] = {};
  int linesize_[4] = {};
};

}  // namespace

VideoStreamInfo probe_video(const std::string& path) {
  OpenedVideo opened = open_video(path);
  const AVStream* stream = opened.video();
  VideoStreamInfo info;
  if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0) {
    info.duration_seconds = seconds(stream->duration, stream->time_base);
  } else {
    info.duration_from_stream = false;
    if (opened.format->duration != AV_NOPTS_VALUE && opened.format->duration > 0)
      info.duration_seconds = static_cast<double>(opened.format->duration) / AV_TIME_BASE;
  }
  info.frame_count = stream->nb_frames;
  if (info.frame_count <= 0) {
    // No declared count (Matroska, WebM): count the stream's packets, one coded frame each.
    info.frame_count_from_header = false;
    info.frame_count = 0;
    std::unique_ptr<AVPacket, PacketFreer> packet(av_packet_alloc());
    if (!packet) throw Error(cat(path, ": out of memory"));
    int rc;
    while ((rc = av_read_frame(opened.format.get(), packet.get())) >= 0) {
      if (packet->stream_index == opened.stream) ++info.frame_count;
      av_packet_unref(packet.get());
    }
    if (rc != AVERROR_EOF) throw Error(cat(path, ": cannot read the video (", av_error_text(rc), ")"));
  }
  if (info.frame_count <= 0) throw Error(cat(path, ": the video stream has no frames"));
  return info;
}

std::vector<RgbImage> decode_video_frames(const std::string& path, const std::vector<int64_t>& indices,
                                          std::vector<int64_t>& found) {
  found.clear();
  std::vector<RgbImage> frames;
  if (indices.empty()) return frames;
  OpenedVideo opened = open_video(path);
  const AVCodecParameters* parameters = opened.video()->codecpar;
  const AVCodec* codec = avcodec_find_decoder(parameters->codec_id);
  if (!codec) throw Error(cat(path, ": no decoder for video codec ", avcodec_get_name(parameters->codec_id)));
  std::unique_ptr<AVCodecContext, CodecFreer> decoder(avcodec_alloc_context3(codec));
  if (!decoder) throw Error(cat(path, ": out of memory"));
  int rc = avcodec_parameters_to_context(decoder.get(), parameters);
  if (rc >= 0) {
    decoder->thread_count = 0;  // let FFmpeg pick; the decoded pixels do not depend on it
    rc = avcodec_open2(decoder.get(), codec, nullptr);
  }
  if (rc < 0) throw Error(cat(path, ": cannot open the ", codec->name, " decoder (", av_error_text(rc), ")"));

  std::unique_ptr<AVPacket, PacketFreer> packet(av_packet_alloc());
  std::unique_ptr<AVFrame, FrameFreer> frame(av_frame_alloc());
  if (!packet || !frame) throw Error(cat(path, ": out of memory"));
  RgbConverter converter;
  int64_t number = 0;  // decoded frames so far
  size_t next = 0;     // next wanted entry of `indices`
  auto drain = [&] {
    while (next < indices.size()) {
      const int got = avcodec_receive_frame(decoder.get(), frame.get());
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) return;
      if (got < 0) throw Error(cat(path, ": cannot decode video frame ", number, " (", av_error_text(got), ")"));
      if (number == indices[next]) {
        try {
          frames.push_back(converter.convert(frame.get()));
        } catch (const Error& e) {
          throw Error(cat(path, ": video frame ", number, ": ", e.what()));
        }
        found.push_back(number);
        while (next < indices.size() && indices[next] <= number) ++next;
      }
      av_frame_unref(frame.get());
      ++number;
    }
  };
  while (next < indices.size()) {
    rc = av_read_frame(opened.format.get(), packet.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) throw Error(cat(path, ": cannot read the video after frame ", number, " (", av_error_text(rc), ")"));
    if (packet->stream_index == opened.stream) {
      rc = avcodec_send_packet(decoder.get(), packet.get());
      if (rc < 0 && rc != AVERROR(EAGAIN)) {
        av_packet_unref(packet.get());
        throw Error(cat(path, ": cannot decode video frame ", number, " (", av_error_text(rc), ")"));
      }
    }
    av_packet_unref(packet.get());
    drain();
  }
  if (next < indices.size()) {  // flush the frames the decoder still holds
    rc = avcodec_send_packet(decoder.get(), nullptr);
    if (rc < 0 && rc != AVERROR_EOF)
      throw Error(cat(path, ": cannot decode video frame ", number, " (", av_error_text(rc), ")"));
    drain();
  }
  return frames;
}

}  // namespace omnitune
