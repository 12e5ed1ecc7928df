"""Peak memory of a command, measured from a small intermediate process: a child's ru_maxrss also counts
the memory of the process it was forked from (a test with torch loaded), so the test cannot wait for
its own child and read ru_maxrss."""
import os
import subprocess
import sys
import tempfile

MEASURE = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[2:]); "
           "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(r.returncode)")


def run_measured(*cmd):
    """Runs `cmd`; returns (stdout + stderr, peak resident set size in bytes). AssertionError if it fails."""
    with tempfile.TemporaryDirectory() as d:
        peak = os.path.join(d, "peak")
        r = subprocess.run([sys.executable, "-c", MEASURE, peak, *cmd], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd[:2])} failed ({r.returncode}):\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
        with open(peak) as f:
            return r.stdout + r.stderr, int(f.read()) * 1024
