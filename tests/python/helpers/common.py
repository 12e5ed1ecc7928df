"""What every Python test shares: where the binaries and the project's assets are (CTest sets the
environment), and one way to run `omnitune` and the helper tools."""
import os
import subprocess

SOURCE_DIR = os.environ.get("OMNITUNE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
OMNITUNE = os.environ.get("OMNITUNE_BIN", os.path.join(SOURCE_DIR, "build", "src", "omnitune", "omnitune"))
TOOLS_DIR = os.environ.get("OMNITUNE_TOOLS_DIR", "")
TOKENIZER_DIR = os.path.join(SOURCE_DIR, "assets", "tokenizer", "qwen3-omni")
TINY_DIR = os.path.join(SOURCE_DIR, "assets", "configs", "tiny-qwen3-omni")
TINY_CONFIG = os.path.join(TINY_DIR, "config.json")
REAL_DIR = os.path.join(SOURCE_DIR, "assets", "configs", "qwen3-omni-30b-a3b")


def _run(cmd, check, timeout, text, input=None):
    r = subprocess.run(cmd, capture_output=True, text=text, timeout=timeout, input=input)
    if check and r.returncode != 0:
        out, err = (r.stdout, r.stderr) if text else (r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))
        raise AssertionError(f"{os.path.basename(cmd[0])} {' '.join(map(str, cmd[1:3]))} failed ({r.returncode}):\n"
                             f"{out[-3000:]}\n{err[-3000:]}")
    return r


def omnitune(*args, check=True, timeout=None, text=True, input=None):
    """Runs `omnitune args...` (stdin: `input`); with `check`, an AssertionError with the output's tail unless it
    exits 0."""
    return _run([OMNITUNE, *map(str, args)], check, timeout, text, input)


def tool(name, *args, check=True, timeout=None, text=True):
    """Runs one of the test helper programs (tests/<module>/<name>.cpp)."""
    return _run([os.path.join(TOOLS_DIR, name), *map(str, args)], check, timeout, text)
