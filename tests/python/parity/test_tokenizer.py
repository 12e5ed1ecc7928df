"""omnitune tokenize against Hugging Face tokenizers (and transformers' AutoTokenizer): identical ids
on a generated multilingual corpus of more than 2 MB, decode round trips, and errors that name the line."""
import functools
import json
import os
import random
import tempfile
import unicodedata
import unittest

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer  # noqa: E402
from common import TOKENIZER_DIR, omnitune

run = functools.partial(omnitune, check=False, text=False)


ENGLISH = ("the quick brown fox jumps over a lazy dog while tokenizers split words into pieces and "
           "merge bytes by rank so that frequent strings become single tokens however rare ones do not "
           "Hello World OpenAI Qwen Python JSON HTTP URL").split()
CONTRACTIONS = ["don't", "DON'T", "It's", "it'S", "we've", "We'Ve", "I'm", "I'M", "you'll", "YOU'LL", "he'd",
                "she'D", "they're", "THEY'RE", "'s", "'T", "o'clock", "rock'n'roll", "'''", "ma'am", "y'all"]
CHINESE = ["你好", "世界", "自然语言处理", "今天天气很好", "我们", "中华人民共和国", "机器学习", "模型", "数据集",
           "，", "。", "！", "？", "“引号”", "《书名》", "、", "（括号）"]
JAPANESE = ["こんにちは", "ありがとう", "カタカナ", "ﾊﾝｶｸ", "日本語のテキスト", "東京都", "ー", "〜", "「かぎ」"]
ARABIC = ["مرحبا", "بالعالم", "اللغة العربية", "كتاب", "١٢٣٤٥", "٫", "؟", "مُحَمَّد", "السَّلَامُ"]
KOREAN = ["안녕하세요", "한국어", "세계"]
OTHER_SCRIPTS = ["Привет мир", "Ελληνικά", "עברית", "हिन्दी", "ไทย", "ქართული", "Tiếng Việt", "Ÿ", "ß", "Æ", "ĳ", "ǅ"]
CODE = ["def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
        "if x != None and y >= 3:\n", "#include <vector>\n", "std::vector<int> v{1, 2, 3};",
        "    \n\n    pass\n", "print(f\"{name!r:>10}\")", "x = {'a': 1, \"b\": [2, 3]}", "a&&b||!c", "i++; j--;",
        "// comment\n", "/* block */", "<div class=\"x\">&amp;</div>", "SELECT * FROM t WHERE id=42;",
        "$ ls -la | grep '\\.py$'", "λx.x", "0x7fffffff", "1e-10", "a_b_c", "__init__", "->", "=>", "::"]
EMOJI = ["😀", "😂", "🙏", "🚀", "🎉", "❤️", "👍🏽", "👋🏿", "🧑🏻‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "🇺🇸", "1️⃣", "#️⃣",
         "🤷‍♀️", "👩🏾‍🔬", "✌🏼", "🫠", "©", "™", "★", "→", "∑", "√2", "∞", "≠", "€", "£", "¥"]
WHITESPACE = ["\t", "\r\n", "\n", "\r", "\u3000", "\u00a0", "\u2009", "\u200b", "\u2028", "\u0085", "\x0b", "\x0c",
              "  ", "     ", " " * 17, "\t\t", " \n", "\n\n\n", " \r\n ", "\u00a0\u00a0", "\u3000\u3000x"]
DIGITS = ["0", "7", "42", "123", "2024", "3.14159", "1,000,000", "12345678901234567890", "²", "³", "½", "Ⅳ", "Ⅻ",
          "１２３", "٣", "૫", "⑦", "-5", "+1", "10%", "$99.99", "v1.2.3", "2024-06-01T12:00:00Z"]
COMBINING = ["e\u0301", "a\u0308", "o\u0302\u0323", "\u1e0b\u0323", "A\u030a", "\u212b", "\u2126", "\u1100\u1161",
             "\u1100\u1161\u11a8", "\uf900", "n\u0303", "c\u0327", "\u0627\u0653", "\u0915\u093c", "u\u0308\u0301",
             "q\u0307\u0323", "i\u0307", "\u0301", "e\u0301\u0301", "\u00e9\u0327", "\u05d1\u05bc", "\u0e01\u0e34"]
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|image_pad|>", "<|video_pad|>", "<|audio_pad|>",
           "<|audio_start|>", "<|audio_end|>", "<|vision_start|>", "<|vision_end|>", "<think>", "</think>",
           "<tool_call>", "</tool_call>", "<tool_response>", "<|fim_prefix|>", "<|box_start|>", "<tts_pad>",
           "<tts_text_bos_single>", "<|im_start|>user\n", "<|im_start|>assistant\n<think>\n\n</think>\n\n",
           "<|im_start", "<think", "</think >", "<|image_pad|", "<|<|im_end|>|>", "<<think>>"]
# Long runs take the long-word merge path and stress the regex.
LONG = [" " * 120, "=" * 100, "-" * 300, "a" * 200, "ab" * 90, "😀" * 30, "\t" * 70, "1" * 150, "!" * 80,
        "\n" * 40, "é" * 70, "中" * 100]
POOLS = [(ENGLISH, 30), (CONTRACTIONS, 6), (CHINESE, 10), (JAPANESE, 5), (ARABIC, 4), (KOREAN, 2),
         (OTHER_SCRIPTS, 3), (CODE, 6), (EMOJI, 6), (WHITESPACE, 10), (DIGITS, 6), (COMBINING, 5), (SPECIAL, 4),
         (LONG, 0.3)]
# Random characters from well-established ranges (letters, marks, numbers, punctuation, symbols).
RANGES = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF),
          (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x2190, 0x22FF),
          (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xFF00, 0xFFEF), (0x1F300, 0x1F64F)]


def random_char(rng):
    lo, hi = rng.choice(RANGES)
    return chr(rng.randint(lo, hi))


def make_line(rng):
    pools, weights = zip(*POOLS)
    parts = []
    for _ in range(rng.randint(1, 120)):
        r = rng.random()
        if r < 0.05:
            parts.append("".join(random_char(rng) for _ in range(rng.randint(1, 8))))
            continue
        piece = rng.choice(rng.choices(pools, weights)[0])
        if rng.random() < 0.15:
            piece = piece.upper() if rng.random() < 0.5 else piece.capitalize()
        parts.append(piece)
        if rng.random() < 0.6:
            parts.append(" ")
    line = "".join(parts)
    if rng.random() < 0.2:
        line += " " * rng.randint(1, 5)  # trailing spaces
    if rng.random() < 0.1:
        line = " " * rng.randint(1, 4) + line
    return line


def make_corpus(min_bytes=2_100_000, seed=1234):
    rng = random.Random(seed)
    lines, size = [], 0
    while size < min_bytes:
        line = make_line(rng)
        lines.append(line)
        size += len(line.encode())
    return lines


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class TokenizerParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.hf = Tokenizer.from_file(os.path.join(TOKENIZER_DIR, "tokenizer.json"))
        cls.lines = make_corpus()
        cls.corpus_bytes = sum(len(x.encode()) for x in cls.lines)
        cls.input = os.path.join(cls.tmp.name, "corpus.jsonl")
        cls.output = os.path.join(cls.tmp.name, "ids.jsonl")
        write_jsonl(cls.input, [{"text": x} for x in cls.lines])
        r = run("tokenize", "--tokenizer", TOKENIZER_DIR, "--input", cls.input, "--output", cls.output, text=True)
        if r.returncode != 0:
            raise AssertionError(f"omnitune tokenize failed ({r.returncode}): {r.stderr}")
        cls.ids = [row["ids"] for row in read_jsonl(cls.output)]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_corpus_ids_identical_to_tokenizers(self):
        self.assertGreaterEqual(self.corpus_bytes, 2_000_000)
        self.assertEqual(len(self.ids), len(self.lines))
        expected = [e.ids for e in self.hf.encode_batch(self.lines, add_special_tokens=False)]
        bad = [i for i, (a, b) in enumerate(zip(self.ids, expected)) if a != b]
        for i in bad[:3]:
            print(f"line {i + 1}: {self.lines[i]!r}\n  omnitune {self.ids[i]}\n  tokenizers {expected[i]}")
        print(f"{len(self.lines)} lines, {self.corpus_bytes} bytes, {sum(map(len, expected))} tokens: "
              f"{len(self.lines) - len(bad)} identical")
        self.assertEqual(bad, [])

    def test_transformers_auto_tokenizer_sample(self):
        from transformers import AutoTokenizer
        auto = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
        for i in range(0, len(self.lines), max(1, len(self.lines) // 300)):
            self.assertEqual(auto.encode(self.lines[i], add_special_tokens=False), self.ids[i], f"line {i + 1}")

    def test_decode_round_trip(self):
        ids_path = os.path.join(self.tmp.name, "ids_in.jsonl")
        text_path = os.path.join(self.tmp.name, "decoded.jsonl")
        sample = list(range(0, len(self.lines), 3))
        write_jsonl(ids_path, [{"ids": self.ids[i]} for i in sample])
        r = run("tokenize", "--decode", "--tokenizer", TOKENIZER_DIR, "--input", ids_path, "--output", text_path, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        decoded = [row["text"] for row in read_jsonl(text_path)]
        self.assertEqual(len(decoded), len(sample))
        for k, i in enumerate(sample):
            self.assertEqual(decoded[k], unicodedata.normalize("NFC", self.lines[i]), f"line {i + 1}")
            if k % 20 == 0:
                self.assertEqual(decoded[k], self.hf.decode(self.ids[i], skip_special_tokens=False), f"line {i + 1}")
        # --skip-special-tokens leaves special tokens out, as tokenizers' decode does.
        write_jsonl(ids_path, [{"ids": self.hf.encode("<|im_start|>user hi<|im_end|><think>").ids}])
        r = run("tokenize", "--decode", "--skip-special-tokens", "--tokenizer", TOKENIZER_DIR, "--input", ids_path, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["text"], "user hi<think>")


def _byte_table():
    printable = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    table, shifted = [], 0
    for b in range(256):
        if b in printable:
            table.append(chr(b))
        else:
            table.append(chr(0x100 + shifted))
            shifted += 1
    return table


BYTE_TABLE = _byte_table()


def byte_level(text):
    """GPT-2's byte-to-character mapping, as tokenizers' pre_tokenize_str shows pieces."""
    return "".join([BYTE_TABLE[b] for b in text.encode()])


class UnicodeSweep(unittest.TestCase):
    """Every code point of planes 0-3 and 14 (all assigned characters, including those newer than
    PCRE2's Unicode tables) in contexts that exercise the regex classes and NFC: the normalised,
    pre-tokenized pieces must be those of tokenizers."""

    def test_every_code_point(self):
        hf = Tokenizer.from_file(os.path.join(TOKENIZER_DIR, "tokenizer.json"))
        cps = [c for c in range(0x40000) if not 0xD800 <= c <= 0xDFFF] + list(range(0xE0000, 0xE1000))
        lines = []
        for i in range(0, len(cps), 64):
            lines.append("".join(f"a{c}b {c}{c}x 1{c}2 '{c}s .{c}. {c}\n{c}\u0301 e{c}\u0301\u0323 {c}  {c} "
                                 for c in map(chr, cps[i:i + 64])))
        with tempfile.TemporaryDirectory() as tmp:
            path, out = os.path.join(tmp, "sweep.jsonl"), os.path.join(tmp, "pieces.jsonl")
            write_jsonl(path, [{"text": x} for x in lines])
            r = run("tokenize", "--pieces", "--tokenizer", TOKENIZER_DIR, "--input", path, "--output", out, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            ours = [row["pieces"] for row in read_jsonl(out)]
        self.assertEqual(len(ours), len(lines))
        bad = []
        for i, line in enumerate(lines):
            expected = [p for p, _ in hf.pre_tokenizer.pre_tokenize_str(hf.normalizer.normalize_str(line))]
            if [byte_level(p) for p in ours[i]] != expected:
                bad.append(f"U+{cps[i * 64]:04X}..U+{cps[min(len(cps), i * 64 + 64) - 1]:04X}")
        self.assertEqual(bad, [])


class TokenizeCli(unittest.TestCase):
    def test_stdin_stdout(self):
        r = run("tokenize", "--tokenizer", TOKENIZER_DIR, input='{"text": "Hello, 世界! 123"}\n\n{"text": ""}\n',
                text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, '{"ids":[9707,11,220,99489,0,220,16,17,18]}\n{"ids":[]}\n')

    def test_help_mentions_decode(self):
        r = run("tokenize", "--help", text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("--decode", r.stdout)
        self.assertIn("--tokenizer", r.stdout)

    def test_errors_name_the_line(self):
        good = b'{"text": "ok"}\n'
        cases = [
            (good + good + b'{"text": "bad \xff byte"}\n', "stdin: line 3: invalid UTF-8 at byte offset 14"),
            (good + b'{"text": "unterminated}\n', "stdin: line 2: invalid JSON"),
            (good + b'{"txt": "x"}\n', 'stdin: line 2: no "text" key'),
            (b'{"text": 5}\n', 'stdin: line 1: "text" must be a string'),
            (b'["text"]\n', "stdin: line 1: expected a JSON object"),
            (b'{"text": "\\ud800"}\n', "stdin: line 1: invalid JSON"),
        ]
        for data, message in cases:
            r = run("tokenize", "--tokenizer", TOKENIZER_DIR, input=data)
            self.assertEqual(r.returncode, 1, (data, r.stderr))
            self.assertIn(message, r.stderr.decode(), data)
            self.assertTrue(r.stderr.decode().startswith("error: "), r.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "in.jsonl")
            with open(path, "wb") as f:
                f.write(good + b'{"text": "\xc3("}\n')
            r = run("tokenize", "--tokenizer", TOKENIZER_DIR, "--input", path, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"{path}: line 2: invalid UTF-8 at byte offset 10", r.stderr)
            r = run("tokenize", "--tokenizer", tmp, "--input", path, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("tokenizer.json", r.stderr)
        r = run("tokenize", "--decode", "--tokenizer", TOKENIZER_DIR, input=b'{"ids": [1, 999999]}\n')
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 1", r.stderr.decode())


if __name__ == "__main__":
    unittest.main()
