"""Corpus -> Vocab (sorted characters) -> integer ids -> (N, T) batches.

    text = load_corpus("data/tinyshakespeare.txt").text
    vocab, ids = Vocab.build(text)                     # ids: smallest unsigned dtype
    train_ids, val_ids = split(ids, val_frac=0.1)
    batches = Batches(train_ids, N=32, T=64)           # batches.get(k) -> x, y (N, T)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CharlstmError

BUILTIN = {"python-docs": "the reference documentation shipped with CPython (pydoc_data.topics)"}

_CHUNK = 1 << 24                                       # characters encoded per vectorised pass


# --------------------------------------------------------------------------- corpus

@dataclass
class Corpus:
    name: str                                          # short name, for run folders
    source: str                                        # what was read, for humans
    text: str


def _python_docs():
    try:
        from pydoc_data import topics
    except ImportError:                                # some distributions strip it
        raise CharlstmError("the built-in corpus python-docs needs pydoc_data, which this "
                            "Python installation lacks; pass a text file instead")
    return "\n\n".join(topics.topics[k] for k in sorted(topics.topics))


def _decode(raw: bytes, path: Path, encoding: str) -> str:
    if b"\x00" in raw[:8192] and encoding.lower().replace("-", "") in ("utf8", "ascii"):
        raise CharlstmError(f"{path} looks like a binary file (it contains NUL bytes); "
                            "pass a text file")
    try:
        return raw.decode(encoding)
    except LookupError:
        raise CharlstmError(f"unknown encoding {encoding!r}; use a Python codec name "
                            "such as utf-8, latin-1 or cp1252")
    except UnicodeDecodeError as e:
        raise CharlstmError(f"{path} is not valid {encoding}: byte offset {e.start} "
                            f"(0x{raw[e.start]:02x}) cannot be decoded; pass --encoding "
                            "with the file's real encoding (e.g. latin-1)")


def load_corpus(corpus: str | Path, encoding: str = "utf-8") -> Corpus:
    """A text file, a directory of *.txt files (sorted, concatenated), or a built-in name."""
    spec = str(corpus)
    if spec in BUILTIN and not Path(spec).exists():
        return Corpus(spec, BUILTIN[spec], _python_docs())
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.txt") if p.is_file())
        if not files:
            raise CharlstmError(f"directory {path} has no .txt files; put text files in it "
                                "or pass a file")
        text = "".join(_decode(f.read_bytes(), f, encoding) for f in files)
        source = f"{path} ({len(files)} .txt files)"
    elif path.is_file():
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise CharlstmError(f"cannot read {path}: {e.strerror}")
        text, source = _decode(raw, path, encoding), str(path)
    else:
        names = ", ".join(BUILTIN)
        raise CharlstmError(f"corpus {spec} not found: pass a text file, a directory of "
                            f".txt files, or a built-in corpus ({names})")
    if not text:
        raise CharlstmError(f"corpus {spec} is empty; it needs some text to learn from")
    return Corpus(path.stem or path.name, source, text)


# --------------------------------------------------------------------------- vocabulary

def _code_points(text: str) -> np.ndarray:
    """str -> uint32 array of Unicode code points, without a Python loop per character."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def id_dtype(vocab_size: int):
    """The smallest unsigned integer type that holds ids 0 .. vocab_size - 1."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dt).max + 1:
            return np.dtype(dt)
    raise CharlstmError(f"vocabulary of {vocab_size} characters is too large")


class Vocab:
    """The sorted set of a corpus's characters; id = position in that order."""

    def __init__(self, chars: str):
        self.chars = "".join(chars)
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        codes = _code_points(self.chars)
        self._lut = np.full(int(codes.max(initial=0)) + 1, -1, dtype=np.int64)
        self._lut[codes] = np.arange(len(codes))
        self.dtype = id_dtype(max(len(self.chars), 1))

    def __len__(self):
        return len(self.chars)

    def __eq__(self, other):
        return isinstance(other, Vocab) and other.chars == self.chars

    @classmethod
    def build(cls, text: str):
        """Vocabulary of ``text`` and the text encoded as ids (chunked, vectorised)."""
        seen = np.zeros(0x110000, dtype=bool)
        for start in range(0, len(text), _CHUNK):
            seen[_code_points(text[start:start + _CHUNK])] = True
        vocab = cls("".join(map(chr, np.flatnonzero(seen))))
        return vocab, vocab.encode(text)

    def encode(self, text: str, strict: bool = True) -> np.ndarray:
        """str -> ids. strict: characters outside the vocabulary raise CharlstmError;
        otherwise they are dropped (see ``unknown``)."""
        out = []
        for start in range(0, len(text), _CHUNK):
            codes = _code_points(text[start:start + _CHUNK]).astype(np.int64)
            ids = np.full(len(codes), -1, dtype=np.int64)
            inside = codes < len(self._lut)
            ids[inside] = self._lut[codes[inside]]
            if (ids < 0).any():
                if strict:
                    raise CharlstmError("text has characters outside the vocabulary: "
                                        + self.describe(self.unknown(text)))
                ids = ids[ids >= 0]
            out.append(ids.astype(self.dtype))
        return np.concatenate(out) if out else np.zeros(0, self.dtype)

    def unknown(self, text: str) -> dict:
        """{character: count} for the characters of ``text`` not in the vocabulary."""
        codes, counts = np.unique(_code_points(text), return_counts=True)
        return {chr(c): int(n) for c, n in zip(codes, counts) if chr(c) not in self.stoi}

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in np.asarray(ids).ravel())

    @staticmethod
    def describe(chars) -> str:
        """Characters as a readable list: 'a', '\\n', 'é' (U+00E9)."""
        return ", ".join(f"{json.dumps(c, ensure_ascii=False)} (U+{ord(c):04X})" for c in chars)


# --------------------------------------------------------------------------- split and batches

def split(ids: np.ndarray, val_frac: float):
    """First (1 - val_frac) for training, last val_frac for validation; contiguous."""
    n_val = int(round(len(ids) * val_frac))
    return ids[:len(ids) - n_val], ids[len(ids) - n_val:]


def fit_streams(n_chars: int, N: int, T: int, what: str, total_chars: int, val_frac: float):
    """The number of parallel streams that fit ``n_chars`` (at most N), and a warning.

    A stream of one batch needs T + 1 characters (T inputs, T shifted targets).
    """
    fit = (n_chars - 1) // T
    if fit >= N:
        return N, None
    if fit < 1:
        frac = (1 - val_frac) if what == "training" else val_frac
        need = math.ceil((T + 1) / frac) if frac > 0 else T + 1
        raise CharlstmError(
            f"the {what} split has {n_chars} characters ({total_chars} in the corpus), too "
            f"few for one sequence of --seq-len {T}; the smallest corpus that works with "
            f"these settings has {need} characters (or lower --seq-len)")
    return fit, (f"warning: the {what} split ({n_chars} chars) is too small for "
                 f"--batch-size {N} with --seq-len {T}; using {fit} streams for it")


class Batches:
    """char-rnn style batches: N parallel contiguous streams, T steps per batch.

    The text is cut into N equal streams laid side by side, so batch k+1 continues each
    row of batch k exactly; the hidden state can be carried from one batch to the next.
    The last batch may be shorter than T when ``partial`` is set (used for validation,
    so every character of the split is scored).
    """

    def __init__(self, ids: np.ndarray, N: int, T: int, partial: bool = False):
        L = (len(ids) - 1) // N                        # characters per stream
        self.x = ids[:N * L].reshape(N, L)
        self.y = ids[1:N * L + 1].reshape(N, L)
        self.N, self.T = N, T
        self.num_batches = math.ceil(L / T) if partial else L // T
        self.chars_per_epoch = N * T * self.num_batches if not partial else N * L

    def __len__(self):
        return self.num_batches

    def get(self, k: int):
        """Batch k: x, y (N, T) int64 (T shorter for a final partial batch)."""
        s = slice(k * self.T, (k + 1) * self.T)
        return self.x[:, s].astype(np.int64), self.y[:, s].astype(np.int64)
