"""TensorBoardWriter's event files read back by TensorBoard's own readers: the record reader (which
checks both CRCs of every record), the event file loader, and the EventAccumulator over a directory
that holds a first run and a resumed one. Every record must equal protobuf's serialization of the
same Event."""
import math
import os
import random
import struct
import subprocess
import tempfile
import time
import unittest

from tensorboard.backend.event_processing import event_accumulator, event_file_loader
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
from tensorboard.util import tensor_util

TOOL = os.path.join(os.environ["OMNITUNE_TOOLS_DIR"], "tensorboard_tool")
TAGS = ["train/loss", "train/lr", "grad_norm", "eval/loss (ünïcode)"]


def as_float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def scalars(rng, steps):
    """(tag, step, value, wall_time) in step order, with extreme and non-finite values among them."""
    special = [0.0, -0.0, 1e30, -1e-30, 3.4e38, float("nan"), float("inf"), -float("inf")]
    out = []
    for step in steps:
        for tag in TAGS:
            value = rng.choice(special) if rng.random() < 0.2 else rng.gauss(0, 10) * 10 ** rng.randint(-8, 8)
            out.append((tag, step, value, 1.7e9 + step * 0.25 + rng.random()))
    return out


def run_tool(log_dir, rows, flush_every=0):
    lines = []
    for i, (tag, step, value, wall) in enumerate(rows):
        lines.append(f"{tag}\t{step}\t{value!r}\t{wall!r}")
        if flush_every and i % flush_every == flush_every - 1:
            lines.append("flush")
    r = subprocess.run([TOOL, log_dir], input="\n".join(lines) + "\n", capture_output=True, text=True, encoding="utf-8")
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout.strip()


def expected_event(tag, step, value, wall):
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
    return event_pb2.Event(wall_time=wall, step=step, summary=summary)


def raw_records(path):
    """Every record's bytes; the reader raises DataLossError on a bad length or data CRC."""
    reader = pywrap_tensorflow.PyRecordReader_New(path)
    out = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return out
        out.append(reader.record())


def same_value(a, b):
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


class TensorBoardEvents(unittest.TestCase):
    def test_two_runs_read_back(self):
        rng = random.Random(7)
        first = scalars(rng, [0, 1, 2, 5, 10, 11])
        resumed = scalars(rng, [12, 13, 2**40])
        with tempfile.TemporaryDirectory() as tmp:
            log_dir = os.path.join(tmp, "runs", "demo")
            before = time.time()
            path1 = run_tool(log_dir, first, flush_every=5)
            time.sleep(1.1)  # a resumed run starts later: its file sorts after the first
            path2 = run_tool(log_dir, resumed)
            after = time.time()
            self.assertEqual(sorted(os.listdir(log_dir)), sorted([os.path.basename(path1), os.path.basename(path2)]))
            self.assertLess(path1, path2)

            for path, rows in ((path1, first), (path2, resumed)):
                records = raw_records(path)
                self.assertEqual(len(records), 1 + len(rows), path)
                version = event_pb2.Event.FromString(records[0])
                self.assertEqual(version.file_version, "brain.Event:2")
                self.assertEqual(version.step, 0)
                self.assertTrue(before - 1 <= version.wall_time <= after + 1, version.wall_time)
                self.assertEqual(records[0], event_pb2.Event(wall_time=version.wall_time, file_version="brain.Event:2").SerializeToString())
                for record, row in zip(records[1:], rows):
                    self.assertEqual(record, expected_event(*row).SerializeToString(), row)

                # The loader migrates simple_value into a scalars-plugin tensor, as TensorBoard serves it.
                loaded = list(event_file_loader.EventFileLoader(path).Load())
                self.assertEqual(len(loaded), 1 + len(rows))
                for event, (tag, step, value, wall) in zip(loaded[1:], rows):
                    self.assertEqual((event.step, event.wall_time), (step, wall))
                    self.assertEqual(len(event.summary.value), 1)
                    v = event.summary.value[0]
                    self.assertEqual((v.tag, v.metadata.plugin_data.plugin_name), (tag, "scalars"))
                    self.assertTrue(same_value(float(tensor_util.make_ndarray(v.tensor)), as_float32(value)), (tag, step, value))

            acc = event_accumulator.EventAccumulator(log_dir, size_guidance={event_accumulator.SCALARS: 0})
            acc.Reload()
            self.assertEqual(sorted(acc.Tags()["scalars"]), sorted(TAGS))
            for tag in TAGS:
                want = [(s, w, v) for t, s, v, w in first + resumed if t == tag]
                got = acc.Scalars(tag)
                self.assertEqual([(e.step, e.wall_time) for e in got], [(s, w) for s, w, _ in want], tag)
                for e, (_, _, v) in zip(got, want):
                    self.assertTrue(same_value(e.value, as_float32(v)), (tag, e.step, e.value, v))

    def test_unwritable_dir_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            plain = os.path.join(tmp, "plain")
            open(plain, "w").close()
            r = subprocess.run([TOOL, os.path.join(plain, "logs")], input="", capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("error:", r.stderr)
            self.assertIn(os.path.join(plain, "logs"), r.stderr)


if __name__ == "__main__":
    unittest.main()
