#include "encode.h"

#include <filesystem>
#include <functional>
#include <memory>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}
#include <stb_image_write.h>

#include "omnitune/core/error.h"
#include "omnitune/io/atomic_file.h"
#include "omnitune/media/ffmpeg_util.h"

namespace omnitune::demo {

namespace {

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
}

struct OutputCloser {
  void operator()(AVFormatContext* c) const {
    if (c->pb) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};
struct ScalerFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

void check(int rc, const std::string& path, const char* what) {
  if (rc < 0) throw Error(cat(path, ": ", what, " failed (", av_error_text(rc), ")"));
}

// One output file: encoders added as streams, packets interleaved, the file renamed into place at the end.
class Muxer {
 public:
  struct Stream {
    std::unique_ptr<AVCodecContext, CodecFreer> codec;
    AVStream* stream = nullptr;
  };

  explicit Muxer(std::string path) : path_(std::move(path)), temp_(path_ + ".tmp"), packet_(av_packet_alloc()) {
    AVFormatContext* raw = nullptr;
    check(avformat_alloc_output_context2(&raw, nullptr, nullptr, path_.c_str()), path_, "choosing the container");
    ctx_.reset(raw);
    ctx_->flags |= AVFMT_FLAG_BITEXACT;
    av_log_set_level(AV_LOG_ERROR);  // no encoder statistics on stderr
  }
  ~Muxer() {
    ctx_.reset();
    if (!finished_) std::filesystem::remove(temp_);
  }

  Stream& add(AVCodecID id, const std::function<void(AVCodecContext*)>& configure) {
    const AVCodec* codec = avcodec_find_encoder(id);
    if (!codec) throw Error(cat(path_, ": this FFmpeg has no ", avcodec_get_name(id), " encoder"));
    auto s = std::make_unique<Stream>();
    s->codec.reset(avcodec_alloc_context3(codec));
    AVCodecContext* c = s->codec.get();
    configure(c);
    c->flags |= AV_CODEC_FLAG_BITEXACT;
    if (ctx_->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    c->thread_count = 1;
    check(avcodec_open2(c, codec, nullptr), path_, "opening the encoder");
    s->stream = avformat_new_stream(ctx_.get(), nullptr);
    if (!s->stream) throw Error(path_ + ": cannot add a stream");
    check(avcodec_parameters_from_context(s->stream->codecpar, c), path_, "copying the encoder parameters");
    s->stream->time_base = c->time_base;
    streams_.push_back(std::move(s));
    return *streams_.back();
  }

  void begin() {
    check(avio_open(&ctx_->pb, temp_.c_str(), AVIO_FLAG_WRITE), temp_, "opening the file");
    check(avformat_write_header(ctx_.get(), nullptr), path_, "writing the header");
  }

  // Sends a frame (nullptr: drains the encoder) and writes the packets that come out.
  void encode(Stream& s, const AVFrame* frame) {
    check(avcodec_send_frame(s.codec.get(), frame), path_, "encoding");
    while (true) {
      int rc = avcodec_receive_packet(s.codec.get(), packet_.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      check(rc, path_, "encoding");
      if (packet_->duration == 0 && s.codec->codec_type == AVMEDIA_TYPE_VIDEO)
        packet_->duration = 1;  // one frame: the last one counts too
      av_packet_rescale_ts(packet_.get(), s.codec->time_base, s.stream->time_base);
      packet_->stream_index = s.stream->index;
      check(av_interleaved_write_frame(ctx_.get(), packet_.get()), path_, "writing a packet");
    }
  }

  void finish() {
    check(av_write_trailer(ctx_.get()), path_, "writing the trailer");
    check(avio_closep(&ctx_->pb), path_, "closing the file");
    std::filesystem::rename(temp_, path_);
    finished_ = true;
  }

 private:
  std::string path_, temp_;
  std::unique_ptr<AVFormatContext, OutputCloser> ctx_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::unique_ptr<AVPacket, PacketFreer> packet_;
  bool finished_ = false;
};

void configure_audio(AVCodecContext* c, int rate) {
  c->sample_fmt = c->codec->sample_fmts[0];  // S16 for FLAC, planar float for AAC
  c->sample_rate = rate;
  av_channel_layout_default(&c->ch_layout, 1);
  c->time_base = {1, rate};
  if (c->codec_id == AV_CODEC_ID_AAC) c->bit_rate = 96000;
}

// Mono samples in frames of the encoder's size, then the drain.
void encode_audio(Muxer& muxer, Muxer::Stream& s, const std::vector<int16_t>& samples, const std::string& path) {
  AVCodecContext* c = s.codec.get();
  const int frame_size = c->frame_size > 0 ? c->frame_size : 4096;
  std::unique_ptr<AVFrame, FrameFreer> frame(av_frame_alloc());
  for (size_t start = 0; start < samples.size(); start += frame_size) {
    const int n = static_cast<int>(std::min<size_t>(frame_size, samples.size() - start));
    frame->nb_samples = n;
    frame->format = c->sample_fmt;
    frame->sample_rate = c->sample_rate;
    check(av_channel_layout_copy(&frame->ch_layout, &c->ch_layout), path, "setting the channel layout");
    check(av_frame_get_buffer(frame.get(), 0), path, "allocating an audio frame");
    for (int i = 0; i < n; ++i) {
      if (c->sample_fmt == AV_SAMPLE_FMT_S16)
        reinterpret_cast<int16_t*>(frame->data[0])[i] = samples[start + i];
      else if (c->sample_fmt == AV_SAMPLE_FMT_FLTP)
        reinterpret_cast<float*>(frame->data[0])[i] = samples[start + i] / 32768.0f;
      else
        throw Error(cat(path, ": unexpected sample format of the ", c->codec->name, " encoder"));
    }
    frame->pts = static_cast<int64_t>(start);
    muxer.encode(s, frame.get());
    av_frame_unref(frame.get());
  }
  muxer.encode(s, nullptr);
}

}  // namespace

void write_png(const std::string& path, const Canvas& image) {
  std::string bytes;
  if (!stbi_write_png_to_func(append_bytes, &bytes, image.width(), image.height(), 3, image.pixels().data(),
                              image.width() * 3))
    throw Error(path + ": PNG encoding failed");
  write_file_atomic(path, bytes);
}

void write_jpeg(const std::string& path, const Canvas& image, int quality) {
  std::string bytes;
  if (!stbi_write_jpg_to_func(append_bytes, &bytes, image.width(), image.height(), 3, image.pixels().data(), quality))
    throw Error(path + ": JPEG encoding failed");
  write_file_atomic(path, bytes);
}

void write_flac(const std::string& path, const std::vector<int16_t>& samples, int rate) {
  Muxer muxer(path);
  Muxer::Stream& audio = muxer.add(AV_CODEC_ID_FLAC, [&](AVCodecContext* c) { configure_audio(c, rate); });
  muxer.begin();
  encode_audio(muxer, audio, samples, path);
  muxer.finish();
}

void write_mp4(const std::string& path, const std::vector<Canvas>& frames, int fps, const std::vector<int16_t>& audio,
               int rate) {
  if (frames.empty()) throw Error(path + ": a video needs frames");
  const int width = frames[0].width(), height = frames[0].height();
  Muxer muxer(path);
  Muxer::Stream& video = muxer.add(AV_CODEC_ID_MPEG4, [&](AVCodecContext* c) {
    c->width = width;
    c->height = height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = {1, fps};
    c->framerate = {fps, 1};
    c->gop_size = fps;
    c->max_b_frames = 0;
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = FF_QP2LAMBDA * 3;
    c->dct_algo = FF_DCT_INT;  // the C transforms: the same bytes on every CPU
    c->idct_algo = FF_IDCT_INT;
  });
  Muxer::Stream& sound = muxer.add(AV_CODEC_ID_AAC, [&](AVCodecContext* c) { configure_audio(c, rate); });
  muxer.begin();

  std::unique_ptr<SwsContext, ScalerFree> scaler(
      sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                     SWS_BILINEAR | SWS_BITEXACT | SWS_ACCURATE_RND, nullptr, nullptr, nullptr));
  if (!scaler) throw Error(path + ": cannot convert RGB frames to YUV");
  std::unique_ptr<AVFrame, FrameFreer> frame(av_frame_alloc());
  for (size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].width() != width || frames[i].height() != height)
      throw Error(cat(path, ": frame ", i, " has another size"));
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = width;
    frame->height = height;
    check(av_frame_get_buffer(frame.get(), 0), path, "allocating a video frame");
    const uint8_t* rgb[1] = {frames[i].pixels().data()};
    const int rgb_stride[1] = {width * 3};
    sws_scale(scaler.get(), rgb, rgb_stride, 0, height, frame->data, frame->linesize);
    frame->pts = static_cast<int64_t>(i);
    frame->quality = video.codec->global_quality;
    muxer.encode(video, frame.get());
    av_frame_unref(frame.get());
  }
  muxer.encode(video, nullptr);
  encode_audio(muxer, sound, audio, path);
  muxer.finish();
}

}  // namespace omnitune::demo
