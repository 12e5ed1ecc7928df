#include "omnitune/model/rope_index.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "omnitune/core/error.h"
#include "omnitune/model/audio_lengths.h"

namespace omnitune {
namespace {

// ---- float32 arithmetic rounded exactly like one torch float32 op ---------------------------------
// A product or sum of two floats is computed exactly enough in double (53 >= 2*24+2 bits) that rounding
// it to float gives the float32 result; the explicit casts also keep the compiler from fusing ops.
float mul_f32(float a, float b) { return static_cast<float>(static_cast<double>(a) * static_cast<double>(b)); }
float add_f32(float a, float b) { return static_cast<float>(static_cast<double>(a) + static_cast<double>(b)); }

// A position as the reference holds it: an int64 value, or a float32 one once a vision piece has been
// involved (vision ids are float32 and every later `start + arange` is promoted to float32).
struct Pos {
  bool is_float = false;
  int64_t i = 0;
  float f = 0.f;

  static Pos integer(int64_t v) { return {false, v, 0.f}; }
  static Pos real(float v) { return {true, 0, v}; }
  float value() const { return is_float ? f : static_cast<float>(i); }  // the float32 id written out
  Pos plus(int64_t k) const { return is_float ? real(add_f32(f, static_cast<float>(k))) : integer(i + k); }
  bool less_than(const Pos& other) const { return is_float ? f < other.f : i < other.i; }  // same kind only
};

using Column = std::array<Pos, 3>;  // (temporal, height, width) ids of one token
using Grid = std::array<int64_t, 3>;

// One row's ids, built piece by piece like the reference's list of chunks: a new piece starts at
// (max over all three axes of the previous piece) + 1.
class RowPositions {
 public:
  void add_piece(std::span<const Column> piece) {
    Pos top = piece.front()[0];
    for (const Column& column : piece)
      for (const Pos& p : column)
        if (top.less_than(p)) top = p;
    columns_.insert(columns_.end(), piece.begin(), piece.end());
    last_max_ = top;
    has_last_ = true;
  }
  // start + 0..n-1 on all three axes (text, markers, audio); n > 0.
  void add_run(Pos start, int64_t n) { add_piece(run_columns(start, n)); }
  Pos next_start() const { return has_last_ ? last_max_.plus(1) : Pos::integer(0); }
  const std::vector<Column>& columns() const { return columns_; }

  static std::vector<Column> run_columns(Pos start, int64_t n) {
    std::vector<Column> run;
    run.reserve(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) {
      const Pos p = start.plus(k);
      run.push_back({p, p, p});
    }
    return run;
  }

 private:
  std::vector<Column> columns_;
  Pos last_max_;
  bool has_last_ = false;
};

// The CPU copy of the per-batch inputs plus the cursors into them: images, videos and audios are
// consumed in token order across the whole batch.
struct Batch {
  explicit Batch(const ThinkerConfig& c) : config(c) {}
  const ThinkerConfig& config;
  bool audio_in_video = false;
  std::vector<Grid> image_grids, video_grids;
  std::vector<float> seconds_per_grid;  // float32, as the reference uses it
  bool has_seconds_per_grid = false;
  std::vector<int64_t> audio_frames;
  size_t next_image = 0, next_video = 0, next_audio = 0;
};

// ---- one row ----------------------------------------------------------------------------------------

// Walks the real tokens of one batch row: text, then marker-delimited image / video / audio spans
// (or merged video+audio spans), checking every span against its grid or audio length.
class RowWalker {
 public:
  RowWalker(Batch& batch, std::vector<int64_t> tokens, int64_t row)
      : b_(batch), cfg_(batch.config), tok_(std::move(tokens)), row_(row) {}

  std::vector<Column> walk();

 private:
  int64_t size() const { return static_cast<int64_t>(tok_.size()); }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(cat("get_rope_index: batch row ", row_, ": ", what));
  }
  std::string name_of(int64_t token) const;
  bool contains(int64_t token) const { return std::find(tok_.begin(), tok_.end(), token) != tok_.end(); }
  int64_t find_from(int64_t token, int64_t from) const;
  void check_text(int64_t from, int64_t to) const;
  void expect_run(int64_t from, int64_t count, int64_t token, const std::string& whose) const;
  void expect_token(int64_t at, int64_t token, const std::string& whose) const;
  int64_t grid_tokens(const Grid& grid, int64_t room, const std::string& whose) const;
  int64_t next_audio_tokens(bool allow_empty, std::string& whose);
  const Grid& next_grid(bool video, std::string& whose);
  float next_seconds_per_grid();
  std::vector<Column> vision_columns(Pos start, const Grid& grid, const std::vector<float>& t_ids) const;

  int64_t image_span(int64_t at, Pos start);
  int64_t video_span(int64_t at, Pos start);
  int64_t audio_span(int64_t at, Pos start);
  int64_t audio_in_video_span(int64_t at, Pos start);

  Batch& b_;
  const ThinkerConfig& cfg_;
  std::vector<int64_t> tok_;
  int64_t row_;
  RowPositions out_;
};

std::string RowWalker::name_of(int64_t token) const {
  if (token == cfg_.image_token_id) return "<|image_pad|>";
  if (token == cfg_.video_token_id) return "<|video_pad|>";
  if (token == cfg_.audio_token_id) return "<|audio_pad|>";
  if (token == cfg_.vision_start_token_id) return "<|vision_start|>";
  if (token == cfg_.vision_end_token_id) return "<|vision_end|>";
  if (token == cfg_.audio_start_token_id) return "<|audio_start|>";
  if (token == cfg_.audio_end_token_id) return "<|audio_end|>";
  return cat("token ", token);
}

// First index >= from holding `token`; the reference's list.index raises when there is none.
int64_t RowWalker::find_from(int64_t token, int64_t from) const {
  for (int64_t p = from; p < size(); ++p)
    if (tok_[p] == token) return p;
  fail(cat("expected another ", name_of(token), " at or after token ", from, " but there is none"));
}

// Text between spans must not hold placeholders: they would get text ids and no features.
void RowWalker::check_text(int64_t from, int64_t to) const {
  for (int64_t p = from; p < to; ++p) {
    const int64_t t = tok_[p];
    if (t == cfg_.image_token_id || t == cfg_.video_token_id || t == cfg_.audio_token_id)
      fail(cat(
          name_of(t), " at token ", p, " is not inside a complete <|vision_start|>/<|audio_start|> span",
          b_.audio_in_video ? " (with use_audio_in_video every video must be <|vision_start|><|audio_start|>...)" : "",
          " or there are more placeholders than grids/audios"));
  }
}

// tokens [from, from+count) must all be `token`.
void RowWalker::expect_run(int64_t from, int64_t count, int64_t token, const std::string& whose) const {
  if (count > size() - from)
    fail(cat(whose, " needs ", count, " ", name_of(token), " from token ", from, " but the row has only ",
             size() - from, " tokens left"));
  for (int64_t p = from; p < from + count; ++p)
    if (tok_[p] != token)
      fail(cat(whose, " needs ", count, " ", name_of(token), " from token ", from, " but token ", p, " is ",
               name_of(tok_[p])));
}

void RowWalker::expect_token(int64_t at, int64_t token, const std::string& whose) const {
  if (at >= size()) fail(cat(whose, ": the row ends where ", name_of(token), " should follow (token ", at, ")"));
  if (tok_[at] != token)
    fail(cat(whose, ": token ", at, " is ", name_of(tok_[at]), ", expected ", name_of(token),
             " (the placeholder count does not match the grid / audio length)"));
}

// Merged tokens t * (h/m) * (w/m) of a grid; sizes must be positive, h and w multiples of the merge size
// m, and the count at most `room` (checked step by step, so nothing overflows).
int64_t RowWalker::grid_tokens(const Grid& grid, int64_t room, const std::string& whose) const {
  const int64_t m = cfg_.vision.spatial_merge_size;
  const auto [t, h, w] = grid;
  if (t <= 0 || h <= 0 || w <= 0 || h % m != 0 || w % m != 0)
    fail(cat(whose, ": grid [", t, ", ", h, ", ", w,
             "] needs positive sizes with h and w multiples of spatial_merge_size ", m));
  const int64_t frames_rows = t <= room && h / m <= room ? t * (h / m) : room + 1;
  if (frames_rows > room || w / m > room || frames_rows * (w / m) > room)
    fail(cat(whose, ": grid [", t, ", ", h, ", ", w, "] needs more placeholder tokens than the ", room,
             " left in the row"));
  return frames_rows * (w / m);
}

// Token count of the next audio (its mel frames through the conv stack), and a label for messages.
int64_t RowWalker::next_audio_tokens(bool allow_empty, std::string& whose) {
  const size_t k = b_.next_audio;
  if (k >= b_.audio_frames.size())
    fail(cat("audio ", k, " of the batch has no length: audio_seqlens has ", b_.audio_frames.size(), " entries"));
  const int64_t frames = b_.audio_frames[k];
  if (frames < 0) fail(cat("audio_seqlens[", k, "] = ", frames, " is negative"));
  const int64_t tokens = audio_output_length(frames, 2 * cfg_.audio.n_window);
  whose = cat("audio ", k, " (audio_seqlens[", k, "] = ", frames, " mel frames -> ", tokens, " tokens)");
  if (tokens == 0 && !allow_empty) fail(cat(whose, ": an audio span needs at least one token"));
  b_.next_audio++;
  return tokens;
}

// The next image's or video's grid, and a label for messages.
const Grid& RowWalker::next_grid(bool video, std::string& whose) {
  const std::vector<Grid>& grids = video ? b_.video_grids : b_.image_grids;
  size_t& k = video ? b_.next_video : b_.next_image;
  const char* kind = video ? "video" : "image";
  if (k >= grids.size())
    fail(cat(kind, " ", k, " of the batch has no grid: ", kind, "_grid_thw has ", grids.size(), " rows"));
  whose = cat(kind, " ", k, " (", kind, "_grid_thw[", k, "])");
  return grids[k++];
}

// Seconds per temporal grid step of the video just taken by next_grid.
float RowWalker::next_seconds_per_grid() {
  const size_t k = b_.next_video - 1;
  if (k >= b_.seconds_per_grid.size())
    fail(cat(
        "video ", k, " has no seconds per grid: video_second_per_grid ",
        b_.has_seconds_per_grid ? cat("has ", b_.seconds_per_grid.size(), " entries") : std::string("is not given")));
  return b_.seconds_per_grid[k];
}

// Ids of a vision span in (frame, row, column) order: (start + t_ids[frame], start + row, start + column).
std::vector<Column> RowWalker::vision_columns(Pos start, const Grid& grid, const std::vector<float>& t_ids) const {
  const int64_t m = cfg_.vision.spatial_merge_size;
  const int64_t rows = grid[1] / m, cols = grid[2] / m;
  const float s = start.value();
  std::vector<Column> out;
  out.reserve(static_cast<size_t>(grid[0] * rows * cols));
  for (float t : t_ids)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        out.push_back({Pos::real(add_f32(t, s)), Pos::real(add_f32(static_cast<float>(r), s)),
                       Pos::real(add_f32(static_cast<float>(c), s))});
  return out;
}

// Temporal ids of a video's frames: frame * seconds_per_grid * position_id_per_seconds (float32 ops).
std::vector<float> video_time_ids(int64_t frames, float seconds_per_grid, float per_second) {
  std::vector<float> ids;
  for (int64_t k = 0; k < frames; ++k)
    ids.push_back(mul_f32(mul_f32(static_cast<float>(k), seconds_per_grid), per_second));
  return ids;
}

// <|vision_start|> at `at`, then the image's pads and <|vision_end|>. Returns the pad count.
int64_t RowWalker::image_span(int64_t at, Pos start) {
  std::string whose;
  const Grid& grid = next_grid(false, whose);
  const int64_t n = grid_tokens(grid, size() - at - 2, whose);
  expect_run(at + 1, n, cfg_.image_token_id, whose);
  expect_token(at + 1 + n, cfg_.vision_end_token_id, whose);
  std::vector<float> t_ids;  // an image's frames are one "second" apart
  const float per_second = static_cast<float>(cfg_.position_id_per_seconds);
  for (int64_t k = 0; k < grid[0]; ++k) t_ids.push_back(mul_f32(static_cast<float>(k), per_second));
  out_.add_piece(vision_columns(start, grid, t_ids));
  return n;
}

// <|vision_start|> at `at`, then the video's pads and <|vision_end|>. Returns the pad count.
int64_t RowWalker::video_span(int64_t at, Pos start) {
  std::string whose;
  const Grid& grid = next_grid(true, whose);
  const float seconds = next_seconds_per_grid();
  const int64_t n = grid_tokens(grid, size() - at - 2, whose);
  expect_run(at + 1, n, cfg_.video_token_id, whose);
  expect_token(at + 1 + n, cfg_.vision_end_token_id, whose);
  const auto t_ids = video_time_ids(grid[0], seconds, static_cast<float>(cfg_.position_id_per_seconds));
  out_.add_piece(vision_columns(start, grid, t_ids));
  return n;
}

// <|audio_start|> at `at`, then the audio's pads and <|audio_end|>. Returns the pad count.
int64_t RowWalker::audio_span(int64_t at, Pos start) {
  std::string whose;
  const int64_t n = next_audio_tokens(false, whose);
  expect_run(at + 1, n, cfg_.audio_token_id, whose);
  expect_token(at + 1 + n, cfg_.audio_end_token_id, whose);
  out_.add_run(start, n);
  return n;
}

// <|vision_start|><|audio_start|> at `at`, then a video's and its audio's pads interleaved, then
// <|audio_end|><|vision_end|>. Ids: the video's and the audio's (start + k) ids, merged by their
// temporal id with the video first on ties; each merged token is its own piece as in the reference.
int64_t RowWalker::audio_in_video_span(int64_t at, Pos start) {
  std::string audio_whose, video_whose;
  const int64_t n_audio = next_audio_tokens(true, audio_whose);
  const Grid& grid = next_grid(true, video_whose);
  const float seconds = next_seconds_per_grid();
  const std::string whose = cat(video_whose, " with ", audio_whose);
  const int64_t from = at + 2, room = size() - from - 2;
  const int64_t n_video = grid_tokens(grid, room, whose);
  if (n_audio > room - n_video)
    fail(cat(whose, ": needs ", n_video + n_audio, " pads but the row has only ", room, " tokens left"));
  int64_t video_pads = 0, audio_pads = 0;
  for (int64_t p = from; p < from + n_video + n_audio; ++p) {
    video_pads += tok_[p] == cfg_.video_token_id;
    audio_pads += tok_[p] == cfg_.audio_token_id;
  }
  if (video_pads != n_video || audio_pads != n_audio)
    fail(cat(whose, ": expected ", n_video, " <|video_pad|> and ", n_audio, " <|audio_pad|> from token ", from,
             ", found ", video_pads, " and ", audio_pads));
  expect_token(from + n_video + n_audio, cfg_.audio_end_token_id, whose);
  expect_token(from + n_video + n_audio + 1, cfg_.vision_end_token_id, whose);

  const float per_second = static_cast<float>(cfg_.position_id_per_seconds);
  const auto video = vision_columns(start, grid, video_time_ids(grid[0], seconds, per_second));
  const auto audio = RowPositions::run_columns(start, n_audio);
  const std::span<const Column> v(video), a(audio);
  size_t vi = 0, ai = 0;
  while (vi < v.size() && ai < a.size()) {
    if (v[vi][0].value() <= a[ai][0].value())
      out_.add_piece(v.subspan(vi++, 1));
    else
      out_.add_piece(a.subspan(ai++, 1));
  }
  if (vi < v.size()) out_.add_piece(v.subspan(vi));
  if (ai < a.size()) out_.add_piece(a.subspan(ai));
  return n_video + n_audio;
}

std::vector<Column> RowWalker::walk() {
  const int64_t n = size(), none = n + 1;
  int64_t images = 0, videos = 0;
  for (int64_t p = 0; p < n; ++p) {  // classify each <|vision_start|> by the token after it
    if (tok_[p] != cfg_.vision_start_token_id) continue;
    if (p + 1 == n) fail(cat("<|vision_start|> at token ", p, " is the row's last token"));
    images += tok_[p + 1] == cfg_.image_token_id;
    videos += tok_[p + 1] == (b_.audio_in_video ? cfg_.audio_start_token_id : cfg_.video_token_id);
  }
  int64_t audios = std::count(tok_.begin(), tok_.end(), cfg_.audio_start_token_id);
  const bool vision_pads = contains(cfg_.image_token_id) || contains(cfg_.video_token_id);
  const bool audio_pads = contains(cfg_.audio_token_id);
  const int64_t spans = images + audios + (b_.audio_in_video ? 0 : videos);

  int64_t st = 0;  // first token not yet given an id
  for (int64_t k = 0; k < spans; ++k) {
    Pos start = out_.next_start();
    const int64_t ed_v = vision_pads && (images > 0 || videos > 0) ? find_from(cfg_.vision_start_token_id, st) : none;
    const int64_t ed_a = audio_pads && audios > 0 ? find_from(cfg_.audio_start_token_id, st) : none;
    const int64_t ed = std::min(ed_v, ed_a);
    if (ed == none) fail("the <|vision_start|>/<|audio_start|> markers have no matching placeholder tokens");

    check_text(st, ed);  // text before the span
    if (ed > st) out_.add_run(start, ed - st);
    start = start.plus(ed - st);
    const int64_t markers = ed == ed_v && ed_v + 1 == ed_a ? 2 : 1;  // span opening = closing marker count
    out_.add_run(start, markers);
    start = start.plus(markers);

    int64_t body = 0;  // tokens between the opening and closing markers
    if (ed == ed_a) {
      body = audio_span(ed, start);
      --audios;
    } else if (tok_[ed + 1] == cfg_.image_token_id) {
      body = image_span(ed, start);
      --images;
    } else if (tok_[ed + 1] == cfg_.video_token_id) {
      body = video_span(ed, start);
      --videos;
    } else if (markers == 2) {
      body = audio_in_video_span(ed, start);
      --videos;
      --audios;
    } else {
      fail(cat("<|vision_start|> at token ", ed, " is followed by ", name_of(tok_[ed + 1]),
               ", expected <|image_pad|>, <|video_pad|>", b_.audio_in_video ? " or <|audio_start|>" : ""));
    }
    st = ed + markers + body + markers;
    out_.add_run(out_.next_start(), markers);
  }
  if (st < n) {  // trailing text
    check_text(st, n);
    out_.add_run(out_.next_start(), n - st);
  }
  if (static_cast<int64_t>(out_.columns().size()) != n)
    fail(cat("internal error: ", out_.columns().size(), " ids for ", n, " tokens"));
  return out_.columns();
}

// ---- batch --------------------------------------------------------------------------------------------

at::Tensor cpu(const at::Tensor& t, at::ScalarType type) { return t.to(at::kCPU).to(type).contiguous(); }

void require_integral(const at::Tensor& t, const char* name) {
  if (!at::isIntegralType(t.scalar_type(), /*includeBool=*/false))
    throw Error(cat("get_rope_index: ", name, " must be an integer tensor, got ", t.scalar_type()));
}

std::vector<Grid> read_grids(const at::Tensor& t, const char* name) {
  std::vector<Grid> grids;
  if (!t.defined()) return grids;
  if (t.dim() != 2 || t.size(1) != 3) throw Error(cat("get_rope_index: ", name, " must be [n, 3], got ", t.sizes()));
  require_integral(t, name);
  const at::Tensor c = cpu(t, at::kLong);
  const int64_t* d = c.data_ptr<int64_t>();
  for (int64_t k = 0; k < c.size(0); ++k) grids.push_back({d[3 * k], d[3 * k + 1], d[3 * k + 2]});
  return grids;
}

void read_audio_and_seconds(const RopeIndexInputs& in, Batch& b) {
  if (in.video_second_per_grid.defined()) {
    if (in.video_second_per_grid.dim() != 1)
      throw Error(
          cat("get_rope_index: video_second_per_grid must be [n_videos], got ", in.video_second_per_grid.sizes()));
    const at::Tensor s = cpu(in.video_second_per_grid, at::kDouble);
    for (int64_t k = 0; k < s.numel(); ++k) {
      const double v = s.data_ptr<double>()[k];
      if (!std::isfinite(static_cast<float>(v)) || v < 0)
        throw Error(cat("get_rope_index: video_second_per_grid[", k, "] = ", v, " is not a finite value >= 0"));
      b.seconds_per_grid.push_back(static_cast<float>(v));  // the reference takes it as float32
    }
    b.has_seconds_per_grid = true;
  }
  if (in.audio_seqlens.defined()) {
    if (in.audio_seqlens.dim() != 1)
      throw Error(cat("get_rope_index: audio_seqlens must be [n_audios], got ", in.audio_seqlens.sizes()));
    require_integral(in.audio_seqlens, "audio_seqlens");
    const at::Tensor a = cpu(in.audio_seqlens, at::kLong);
    b.audio_frames.assign(a.data_ptr<int64_t>(), a.data_ptr<int64_t>() + a.numel());
  }
}

// Every grid and audio length must belong to a span of real tokens (else the features and the tokens
// disagree) — except trailing ones whose placeholders are all masked out (attention_mask 0) and come after
// every real placeholder of their kind: keep_towers_active's fake media, which transformers accepts too
// (the tower runs, the tokens take no part in attention or positions).
void check_all_used(const Batch& b, const at::Tensor& ids, const at::Tensor& mask) {
  const int64_t m = b.config.vision.spatial_merge_size;
  auto grid_tokens = [m](const Grid& g) { return g[0] * g[1] * g[2] / (m * m); };
  auto check = [&](int64_t token, size_t used, size_t given, const char* what, auto tokens_of) {
    if (used == given) return;
    int64_t leftover = 0;
    for (size_t k = used; k < given; ++k) leftover += tokens_of(k);
    int64_t masked = 0;
    bool order_ok = true;
    if (mask.defined()) {
      const int64_t* t = ids.data_ptr<int64_t>();
      const double* a = mask.data_ptr<double>();
      for (int64_t i = 0; i < ids.numel(); ++i) {
        if (t[i] != token) continue;
        if (a[i] != 1)
          ++masked;
        else if (masked > 0)
          order_ok = false;
      }
    }
    if (masked != leftover || !order_ok)
      throw Error(cat("get_rope_index: ", what, " has ", given, " entries but the batch's real tokens use ", used,
                      " (the other entries need ", leftover,
                      " masked-out placeholder tokens after the real ones; found ", masked,
                      order_ok ? "" : ", not all after the real ones", ")"));
  };
  check(b.config.image_token_id, b.next_image, b.image_grids.size(), "image_grid_thw",
        [&](size_t k) { return grid_tokens(b.image_grids[k]); });
  check(b.config.video_token_id, b.next_video, b.video_grids.size(), "video_grid_thw",
        [&](size_t k) { return grid_tokens(b.video_grids[k]); });
  check(b.config.audio_token_id, b.next_audio, b.audio_frames.size(), "audio_seqlens",
        [&](size_t k) { return audio_output_length(b.audio_frames[k], 2 * b.config.audio.n_window); });
}

// Without image/video grids: ids = cumsum(mask) - 1 (float32, as the reference) on all three axes,
// padded slots 1; with no mask, 0..L-1. Image/video placeholders without grids are an error.
at::Tensor text_only_ids(const ThinkerConfig& cfg, const at::Tensor& ids, const at::Tensor& mask) {
  const int64_t rows = ids.size(0), len = ids.size(1);
  at::Tensor out = at::empty({3, rows, len}, at::kFloat);
  float* o = out.data_ptr<float>();
  const int64_t* t = ids.data_ptr<int64_t>();
  const double* m = mask.defined() ? mask.data_ptr<double>() : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;  // the reference's float32 cumsum accumulates in double
    for (int64_t l = 0; l < len; ++l) {
      const int64_t at = r * len + l;
      const bool real = !m || m[at] == 1;
      if (real && (t[at] == cfg.image_token_id || t[at] == cfg.video_token_id))
        throw Error(cat("get_rope_index: batch row ", r,
                        " has image/video placeholders but neither image_grid_thw nor video_grid_thw is given"));
      float id = static_cast<float>(l);
      if (m) {
        sum += static_cast<float>(m[at]);
        id = m[at] == 0 ? 1.f : add_f32(static_cast<float>(sum), -1.f);
      }
      for (int a = 0; a < 3; ++a) o[a * rows * len + at] = id;
    }
  }
  return out;
}

// The full walk per row over the real tokens (mask == 1); padded slots 0. A row without real tokens
// keeps all zeros (the reference fails on it).
at::Tensor multimodal_ids(Batch& b, const at::Tensor& ids, const at::Tensor& mask) {
  const int64_t rows = ids.size(0), len = ids.size(1);
  at::Tensor out = at::zeros({3, rows, len}, at::kFloat);
  float* o = out.data_ptr<float>();
  const int64_t* t = ids.data_ptr<int64_t>();
  const double* m = mask.defined() ? mask.data_ptr<double>() : nullptr;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> slots, tokens;
    for (int64_t l = 0; l < len; ++l)
      if (!m || m[r * len + l] == 1) slots.push_back(l), tokens.push_back(t[r * len + l]);
    const std::vector<Column> columns = RowWalker(b, std::move(tokens), r).walk();
    for (size_t k = 0; k < slots.size(); ++k)
      for (int a = 0; a < 3; ++a) o[(a * rows + r) * len + slots[k]] = columns[k][a].value();
  }
  check_all_used(b, ids, mask);
  return out;
}

}  // namespace

at::Tensor get_rope_index(const ThinkerConfig& config, const RopeIndexInputs& in) {
  if (!in.input_ids.defined() || in.input_ids.dim() != 2)
    throw Error("get_rope_index: input_ids must be a [batch, length] tensor");
  require_integral(in.input_ids, "input_ids");
  if (config.vision.spatial_merge_size <= 0 || config.audio.n_window <= 0)
    throw Error("get_rope_index: spatial_merge_size and audio n_window must be positive");
  const at::Tensor ids = cpu(in.input_ids, at::kLong);
  at::Tensor mask;
  if (in.attention_mask.defined()) {
    if (in.attention_mask.sizes() != in.input_ids.sizes())
      throw Error(cat("get_rope_index: attention_mask ", in.attention_mask.sizes(), " does not match input_ids ",
                      in.input_ids.sizes()));
    mask = cpu(in.attention_mask, at::kDouble);
  }

  at::Tensor out;
  if (!in.image_grid_thw.defined() && !in.video_grid_thw.defined()) {
    out = text_only_ids(config, ids, mask);
  } else {
    Batch b(config);
    b.audio_in_video = in.use_audio_in_video;
    b.image_grids = read_grids(in.image_grid_thw, "image_grid_thw");
    b.video_grids = read_grids(in.video_grid_thw, "video_grid_thw");
    read_audio_and_seconds(in, b);
    out = multimodal_ids(b, ids, mask);
  }
  return out.to(in.input_ids.device());
}

}  // namespace omnitune
