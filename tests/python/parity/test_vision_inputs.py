"""Image and video inputs: OmniTune's vision_input_tool against the reference pipeline.

Reference, stage by stage:
  decode      PIL Image.open + ImageOps.exif_transpose + convert("RGB") (images); PyAV frame.to_image()
              on the frames the seed samples (videos);
  pre-resize  the seed's (MindSpeed-MM / LLaMA-Factory Qwen3-Omni plugin) PIL pre-resize, written out below,
              applied to the RGB image (bicubic for images, NEAREST for video frames);
  processor   transformers' Qwen2-VL image / video processors as AutoImageProcessor / AutoVideoProcessor
              build them from the Qwen3-Omni preprocessor_config.json (the torchvision backends), fed the
              very pixels the tool pre-resized, with explicit min/max pixels.
Frame indices are checked against the seed's sampling rule computed from PyAV's frame count and duration.
"""
import math
import os
import shutil
import subprocess
import tempfile
import unittest

import av
import numpy as np
from PIL import Image, ImageOps
from safetensors.torch import load_file
from transformers import AutoImageProcessor, AutoVideoProcessor
from common import REAL_DIR

TOOL = os.path.join(os.environ["OMNITUNE_TOOLS_DIR"], "vision_input_tool")
PROCESSOR_MIN_PIXELS, PROCESSOR_MAX_PIXELS = 3136, 12845056  # preprocessor_config.json
IMAGE_BOUNDS = (1024, 589824)  # the seed's image_min_pixels / image_max_pixels defaults
VIDEO_OPTIONS = (2.0, 128, 256, 65536)  # video_fps, video_maxlen, video_min_pixels, video_max_pixels


def seed_preresize(image, min_pixels, max_pixels, resample):
    """The seed's pre-resize of one RGB PIL image; `resample` None = PIL's default (bicubic)."""

    def resize(im, size, filt):
        return im.resize(size) if filt is None else im.resize(size, resample=filt)

    if image.width * image.height > max_pixels:
        factor = math.sqrt(max_pixels / (image.width * image.height))
        image = resize(image, (int(image.width * factor), int(image.height * factor)), resample)
    if image.width * image.height < min_pixels:
        factor = math.sqrt(min_pixels / (image.width * image.height))
        image = resize(image, (int(image.width * factor), int(image.height * factor)), resample)
    if min(image.width, image.height) < 28:
        image = image.resize((max(image.width, 28), max(image.height, 28)))
    if image.width / image.height > 200:
        image = image.resize((image.height * 180, image.height))
    if image.height / image.width > 200:
        image = image.resize((image.width, image.width * 180))
    return image


def seed_sample(total_frames, duration, fps, max_frames):
    """The seed's frame choice: n = min(total, maxlen, max(1, floor(duration * fps))) at linspace, truncated."""
    n = min(total_frames, max_frames, max(1, math.floor(duration * fps)))
    return np.linspace(0, total_frames - 1, n).astype(np.int32).tolist(), n / duration


def run_tool(*args):
    return subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True)


def smooth_image(width, height, seed, mode="RGB"):
    """Gradients plus noise plus a few edges: realistic enough for JPEG, varied enough for resizing."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([x / max(width - 1, 1) * 255, y / max(height - 1, 1) * 255, (x + y) % 64 * 4], axis=-1)
    base[(x // 17 + y // 11) % 2 == 0] *= 0.6
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    return image if mode == "RGB" else image.convert(mode)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


class VisionInputsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="omnitune-vision-")
        cls.image_processor = AutoImageProcessor.from_pretrained(REAL_DIR)
        cls.video_processor = AutoVideoProcessor.from_pretrained(REAL_DIR)
        cls.report = []

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)
        print("\n".join(["", "vision input parity:"] + cls.report))

    def path(self, name):
        return os.path.join(self.dir, name)

    def tool_outputs(self, mode, path, *options):
        out = self.path("out.safetensors")
        result = run_tool(mode, path, out, *options)
        self.assertEqual(result.returncode, 0, result.stderr)
        return load_file(out)

    def compare_processor(self, label, ours, reference_values, reference_grid):
        """pixel_values / grid of the tool vs the reference processor's on the same pre-resized pixels."""
        self.assertEqual(ours["grid_thw"].tolist(), reference_grid.reshape(-1).tolist(), label)
        self.assertEqual(ours["pixel_values"].shape, reference_values.shape, label)
        delta = (ours["pixel_values"] - reference_values.float()).abs()
        mean, worst = delta.mean().item(), delta.max().item()
        self.report.append(f"  {label}: grid {ours['grid_thw'].tolist()} pixel_values mean|d| {mean:.2e} max|d| {worst:.2e}")
        self.assertLessEqual(mean, 1e-3, label)
        self.assertLessEqual(worst, 2.5 / 127.5, label)  # at most 2 levels of 255 anywhere

    # ---- images ---------------------------------------------------------------------------------

    def check_image(self, name, bounds=IMAGE_BOUNDS, exact_decode=True):
        path = self.path(name)
        ours = self.tool_outputs("image", path, *bounds)
        with Image.open(path) as opened:
            reference = ImageOps.exif_transpose(opened).convert("RGB")
        decoded = ours["decoded"].numpy()
        expected = np.asarray(reference)
        self.assertEqual(decoded.shape, expected.shape, name)
        decode_delta = np.abs(decoded.astype(np.int16) - expected.astype(np.int16))
        self.report.append(f"  {name}: decoded {decoded.shape[1]}x{decoded.shape[0]} max|d| vs PIL {decode_delta.max()}")
        if exact_decode:
            self.assertEqual(decode_delta.max(), 0, name)
        # The seed's pre-resize, from the PIL-decoded image.
        pre = np.asarray(seed_preresize(reference, *bounds, None))
        self.assertEqual(ours["resized"].shape, pre.shape, name)
        self.assertTrue(np.array_equal(ours["resized"].numpy(), pre), f"{name}: pre-resize differs from PIL's")
        # The processor, on the same pre-resized pixels.
        hf = self.image_processor(
            images=[ours["resized"].numpy()],
            min_pixels=PROCESSOR_MIN_PIXELS,
            max_pixels=PROCESSOR_MAX_PIXELS,
            return_tensors="pt",
        )
        self.compare_processor(name, ours, hf["pixel_values"], hf["image_grid_thw"])

    def test_png_sizes(self):
        for name, (w, h) in {"tiny.png": (10, 7), "wide.png": (2000, 12), "tall.png": (12, 1900), "odd.png": (333, 97)}.items():
            smooth_image(w, h, seed=w).save(self.path(name))
            self.check_image(name)

    def test_jpeg(self):
        smooth_image(640, 480, seed=1).save(self.path("photo.jpg"), quality=90)
        self.check_image("photo.jpg")
        self.check_image("photo.jpg", bounds=(1024, 65536))  # forced down-scale
        self.check_image("photo.jpg", bounds=(400000, 800000))  # forced up-scale
        smooth_image(3000, 2000, seed=2).save(self.path("large.jpg"), quality=85)
        self.check_image("large.jpg")
        smooth_image(900, 2400, seed=18).save(self.path("tall_large.jpg"), quality=85)  # Pillow 13: height pass first
        self.check_image("tall_large.jpg")
        smooth_image(321, 203, seed=3).save(self.path("progressive.jpg"), quality=75, progressive=True)
        self.check_image("progressive.jpg")
        smooth_image(250, 170, seed=4).save(self.path("444.jpg"), quality=95, subsampling=0)
        self.check_image("444.jpg")
        smooth_image(250, 170, seed=5).save(self.path("422.jpg"), quality=80, subsampling=1)
        self.check_image("422.jpg")
        smooth_image(200, 150, seed=6, mode="L").save(self.path("grey.jpg"))
        self.check_image("grey.jpg")
        smooth_image(200, 150, seed=7, mode="CMYK").save(self.path("cmyk.jpg"))
        self.check_image("cmyk.jpg")

    def test_exif_orientation(self):
        base = smooth_image(64, 40, seed=8)
        for orientation in range(1, 9):
            exif = Image.Exif()
            exif[0x0112] = orientation
            name = f"exif{orientation}.jpg"
            base.save(self.path(name), quality=92, exif=exif.tobytes())
            self.check_image(name)
            ours = self.tool_outputs("image", self.path(name))
            transposed = orientation >= 5
            self.assertEqual(tuple(ours["decoded"].shape[:2]), (64, 40) if transposed else (40, 64), name)
        exif = Image.Exif()
        exif[0x0112] = 6
        base.save(self.path("exif6.png"), exif=exif.tobytes())
        self.check_image("exif6.png")
        exif[0x0112] = 8
        base.save(self.path("exif8.webp"), lossless=True, exif=exif.tobytes())
        self.check_image("exif8.webp")

    def test_other_formats(self):
        rgba = smooth_image(300, 200, seed=9).convert("RGBA")
        alpha = np.asarray(smooth_image(300, 200, seed=10, mode="L"))
        rgba.putalpha(Image.fromarray(alpha))
        rgba.save(self.path("alpha.png"))
        self.check_image("alpha.png")
        smooth_image(120, 90, seed=11).convert("P", palette=Image.Palette.ADAPTIVE).save(self.path("anim.gif"))
        self.check_image("anim.gif")
        smooth_image(90, 60, seed=19).convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(self.path("clear.gif"), transparency=5)
        self.check_image("clear.gif")
        frames = [smooth_image(48, 32, seed=20 + i) for i in range(3)]
        frames[0].save(self.path("frames.gif"), save_all=True, append_images=frames[1:], duration=100)
        self.check_image("frames.gif")
        smooth_image(101, 77, seed=12).save(self.path("picture.bmp"))
        self.check_image("picture.bmp")
        smooth_image(64, 64, seed=13).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(self.path("palette.png"))
        self.check_image("palette.png")
        smooth_image(70, 50, seed=14, mode="LA").save(self.path("grey_alpha.png"))
        self.check_image("grey_alpha.png")
        smooth_image(320, 240, seed=15).save(self.path("lossy.webp"), quality=80)
        self.check_image("lossy.webp")
        rgba.save(self.path("lossless.webp"), lossless=True)
        self.check_image("lossless.webp")
        rgba.save(self.path("lossy_alpha.webp"), quality=70)
        self.check_image("lossy_alpha.webp")

    def test_bad_images(self):
        with open(self.path("notes.jpg"), "w") as f:
            f.write("just some text\n")
        smooth_image(64, 48, seed=16).save(self.path("whole.jpg"))
        with open(self.path("whole.jpg"), "rb") as f:
            data = f.read()
        with open(self.path("truncated.jpg"), "wb") as f:
            f.write(data[: len(data) // 2])
        with open(self.path("garbage.jpg"), "wb") as f:
            f.write(data[:20] + bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8)))
        smooth_image(64, 48, seed=17).save(self.path("whole.png"))
        with open(self.path("whole.png"), "rb") as f:
            data = f.read()
        with open(self.path("truncated.png"), "wb") as f:
            f.write(data[: len(data) // 2])
        for name in ["missing.png", "notes.jpg", "truncated.jpg", "garbage.jpg", "truncated.png"]:
            result = run_tool("image", self.path(name), self.path("never.safetensors"))
            self.assertEqual(result.returncode, 1, f"{name}: {result.stderr}")
            self.assertIn(self.path(name), result.stderr)
            self.assertFalse(os.path.exists(self.path("never.safetensors")))
            self.report.append(f"  {name}: {result.stderr.strip()}")

    # ---- videos ---------------------------------------------------------------------------------

    def seed_reference(self, path, fps, max_frames):
        """Indices, effective fps and PyAV frames of the seed's rule. Containers without a declared frame
        count / stream duration (Matroska, WebM) use OmniTune's fallback: counted packets, container duration."""
        with av.open(path) as container:
            stream = next(s for s in container.streams if s.type == "video")
            total = stream.frames
            duration = float(stream.duration * stream.time_base) if stream.duration is not None else None
            if total == 0:
                total = sum(1 for packet in container.demux(stream) if packet.size > 0)
            if duration is None:
                duration = container.duration / av.time_base
        indices, effective_fps = seed_sample(total, duration, fps, max_frames)
        frames = []
        with av.open(path) as container:
            stream = next(s for s in container.streams if s.type == "video")
            for number, frame in enumerate(container.decode(stream)):
                if number in indices:
                    frames.append(np.asarray(frame.to_image()))
        return indices, effective_fps, frames

    def check_video(self, name, options=VIDEO_OPTIONS):
        path = self.path(name)
        fps, max_frames, min_pixels, max_pixels = options
        ours = self.tool_outputs("video", path, *options)
        indices, effective_fps, pyav_frames = self.seed_reference(path, fps, max_frames)
        self.assertEqual(ours["frame_indices"].tolist(), indices, name)
        self.assertAlmostEqual(ours["effective_fps"].item(), effective_fps, places=12, msg=name)
        self.assertAlmostEqual(ours["second_per_grid"].item(), 2 / effective_fps, places=12, msg=name)
        # Decoding vs PyAV's to_image() (both swscale; PyAV bundles a newer FFmpeg).
        frames = ours["frames"].numpy()
        self.assertEqual(frames.shape, (len(pyav_frames), *pyav_frames[0].shape), name)
        delta = np.abs(frames.astype(np.int16) - np.stack(pyav_frames).astype(np.int16))
        self.report.append(
            f"  {name}: {len(indices)} frames {indices[:4]}{'...' if len(indices) > 4 else ''} fps {effective_fps:.4g}; "
            f"decode vs PyAV max|d| {delta.max()} mean|d| {delta.mean():.3f}"
        )
        self.assertLessEqual(delta.mean(), 1.0, name)
        # The seed's per-frame pre-resize (odd count: last frame repeated), from our decoded frames.
        expected = [np.asarray(seed_preresize(Image.fromarray(f), min_pixels, max_pixels, Image.Resampling.NEAREST)) for f in frames]
        if len(expected) % 2:
            expected.append(expected[-1])
        self.assertTrue(np.array_equal(ours["resized_frames"].numpy(), np.stack(expected)), f"{name}: pre-resize differs")
        # The video processor, on the same frames.
        hf = self.video_processor(
            videos=[ours["resized_frames"].numpy()],
            min_pixels=PROCESSOR_MIN_PIXELS,
            max_pixels=PROCESSOR_MAX_PIXELS,
            do_sample_frames=False,
            return_tensors="pt",
        )
        self.compare_processor(name, ours, hf["pixel_values_videos"], hf["video_grid_thw"])

    def test_videos(self):
        src = "testsrc=duration={d}:size={s}:rate={r}"
        ffmpeg("-f", "lavfi", "-i", src.format(d=3, s="320x240", r=25), "-c:v", "libx264", "-pix_fmt", "yuv420p", self.path("h264.mp4"))
        self.check_video("h264.mp4")
        self.check_video("h264.mp4", options=(3.0, 5, 1024, 16384))
        ffmpeg("-f", "lavfi", "-i", src.format(d=1.5, s="176x144", r=7), "-c:v", "libx264", "-pix_fmt", "yuv420p", self.path("odd.mp4"))
        self.check_video("odd.mp4")
        ffmpeg("-f", "lavfi", "-i", "testsrc2=duration=2.5:size=200x150:rate=10", "-c:v", "libvpx-vp9", "-b:v", "300k", self.path("vp9.webm"))
        self.check_video("vp9.webm")
        ffmpeg("-f", "lavfi", "-i", src.format(d=2, s="160x120", r=15), "-c:v", "mjpeg", "-q:v", "3", self.path("mjpeg.avi"))
        self.check_video("mjpeg.avi")
        ffmpeg("-f", "lavfi", "-i", src.format(d=3, s="240x180", r=5), "-c:v", "libx264", "-pix_fmt", "yuv420p", self.path("h264.mkv"))
        self.check_video("h264.mkv")
        ffmpeg("-f", "lavfi", "-i", src.format(d=1, s="640x360", r=30), "-c:v", "libx264", "-pix_fmt", "yuv420p", self.path("hd.mp4"))
        self.check_video("hd.mp4")

    def test_bad_videos(self):
        ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", self.path("sound.mp4"))
        with open(self.path("notes.mp4"), "w") as f:
            f.write("not a video\n")
        with open(self.path("noise.mkv"), "wb") as f:
            f.write(bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)))
        for name in ["missing.mp4", "sound.mp4", "notes.mp4", "noise.mkv"]:
            result = run_tool("video", self.path(name), self.path("never.safetensors"))
            self.assertEqual(result.returncode, 1, f"{name}: {result.stderr}")
            self.assertIn(self.path(name), result.stderr)
            self.report.append(f"  {name}: {result.stderr.strip()}")
        self.assertIn("no video stream", run_tool("video", self.path("sound.mp4"), self.path("x.safetensors")).stderr)


if __name__ == "__main__":
    unittest.main()
