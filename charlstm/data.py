"""Corpus -> Vocab (sorted characters) -> integer ids -> (N, T) batches.

    text = load_corpus("data/tinyshakespeare.txt").text
    vocab, ids = Vocab.build(text)                     # ids: smallest unsigned dtype
    train_ids, val_ids = split(ids, val_frac=0.1)
    batches = Batches(train_ids, N=32, T=64)           # batches.get(k) -> x, y (N, T)

A corpus of any size goes through ``encode_corpus`` instead: it reads the files in
chunks (never the whole text at once), counts the characters, encodes them into an id
file in a cache folder, and returns those ids memory-mapped, so a second run on the same
corpus starts at once and memory does not grow with the corpus:

    enc = encode_corpus("enwik8", min_count=5)        # enc.vocab, enc.ids (np.memmap)
"""

from __future__ import annotations

import codecs
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CharlstmError

BUILTIN = {"python-docs": "the reference documentation shipped with CPython (pydoc_data.topics)"}

_CHUNK = 1 << 24                                       # characters encoded per vectorised pass
_READ = 1 << 22                                        # bytes read per chunk when streaming a file
UNKNOWN = "\ufffd"                                     # stands for every folded (rare) character


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


def _binary_error(path: Path, head: bytes) -> CharlstmError:
    """A file with NUL bytes, read as UTF-8: UTF-16 or UTF-32 text, or not text at all."""
    for bom, enc in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                     (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if head.startswith(bom):
            return CharlstmError(f"{path} is {enc.upper()} text (it starts with a byte-order "
                                 f"mark); pass --encoding {enc}")
    even, odd = head[0:2048:2], head[1:2048:2]
    if len(head) >= 4 and (even.count(0) > 0.9 * len(even)) != (odd.count(0) > 0.9 * len(odd)):
        le = odd.count(0) > 0.9 * len(odd)             # 'h\0e\0': little-endian
        return CharlstmError(f"{path} looks like UTF-16 text without a byte-order mark (every "
                             f"other byte is NUL); pass --encoding utf-16-{'le' if le else 'be'}")
    return CharlstmError(f"{path} looks like a binary file (it contains NUL bytes); "
                         "pass a text file")


def _decode(raw: bytes, path: Path, encoding: str) -> str:
    if b"\x00" in raw[:8192] and encoding.lower().replace("-", "") in ("utf8", "ascii"):
        raise _binary_error(path, raw[:8192])
    try:
        return raw.decode(encoding)
    except LookupError:
        raise CharlstmError(f"unknown encoding {encoding!r}; use a Python codec name "
                            "such as utf-8, latin-1 or cp1252")
    except UnicodeDecodeError as e:
        raise CharlstmError(f"{path} is not valid {encoding}: byte offset {e.start} "
                            f"(0x{raw[e.start]:02x}) cannot be decoded; pass --encoding "
                            "with the file's real encoding (e.g. latin-1)")


def _resolve(corpus: str | Path):
    """What a corpus argument names: (name, source, files) or, for a built-in, (name,
    source, text)."""
    spec = str(corpus)
    if spec in BUILTIN and not Path(spec).exists():
        return spec, BUILTIN[spec], _python_docs()
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.txt") if p.is_file())
        if not files:
            raise CharlstmError(f"directory {path} has no .txt files; put text files in it "
                                "or pass a file")
        return path.stem or path.name, f"{path} ({len(files)} .txt files)", files
    if path.is_file():
        return path.stem or path.name, str(path), [path]
    names = ", ".join(BUILTIN)
    from .download import CORPORA                      # the corpora `charlstm download` fetches
    fetch = [n for n, c in CORPORA.items() if path.name in (c["file"], n)]
    dest = "" if path.parent == Path("data") else f" --dest {path.parent}"
    hint = f"; fetch it with: charlstm download {fetch[0]}{dest}" if fetch else ""
    raise CharlstmError(f"corpus {spec} not found{hint}; or pass a text file, a directory "
                        f"of .txt files, or a built-in corpus ({names}: no download needed)")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CharlstmError(f"cannot read {path}: {e.strerror}")


def load_corpus(corpus: str | Path, encoding: str = "utf-8") -> Corpus:
    """A text file, a directory of *.txt files (sorted, concatenated), or a built-in name,
    read whole into memory (for texts to score or look at; training streams instead,
    see ``encode_corpus``)."""
    name, source, files = _resolve(corpus)
    text = files if isinstance(files, str) else "".join(
        _decode(_read(f), f, encoding) for f in files)
    if not text:
        raise CharlstmError(f"corpus {corpus} is empty; it needs some text to learn from")
    return Corpus(name, source, text)


# --------------------------------------------------------------------------- vocabulary

def _code_points(text: str) -> np.ndarray:
    """str -> uint32 array of Unicode code points, without a Python loop per character."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _count(counts: np.ndarray, codes: np.ndarray):
    """Add the occurrences of each code point to ``counts`` (indexed by code point)."""
    if len(codes):
        c = np.bincount(codes)
        counts[:len(c)] += c


def id_dtype(vocab_size: int):
    """The smallest unsigned integer type that holds ids 0 .. vocab_size - 1."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dt).max + 1:
            return np.dtype(dt)
    raise CharlstmError(f"vocabulary of {vocab_size} characters is too large")


class Vocab:
    """The sorted set of a corpus's characters; id = position in that order.

    ``unknown``: when rare characters were folded (see ``from_counts``), the symbol that
    stands for all of them (U+FFFD), which is then one of ``chars``; ``encode`` maps any
    character outside the vocabulary to it. None (the default) for a vocabulary of every
    character, where ``encode`` refuses or drops unknown characters instead.
    """

    def __init__(self, chars: str, unknown: str | None = None):
        self.chars = "".join(chars)
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        if unknown is not None and unknown not in self.stoi:
            raise CharlstmError(f"the unknown symbol {unknown!r} is not in the vocabulary")
        self.unknown_char = unknown
        codes = _code_points(self.chars)
        self._lut = np.full(int(codes.max(initial=0)) + 1, -1, dtype=np.int64)
        self._lut[codes] = np.arange(len(codes))
        self.dtype = id_dtype(max(len(self.chars), 1))

    @property
    def unknown_id(self) -> int | None:
        return None if self.unknown_char is None else self.stoi[self.unknown_char]

    def __len__(self):
        return len(self.chars)

    def __eq__(self, other):
        return (isinstance(other, Vocab) and other.chars == self.chars
                and other.unknown_char == self.unknown_char)

    @classmethod
    def from_counts(cls, counts: np.ndarray, min_count: int = 1, max_size: int | None = None):
        """The vocabulary of characters counted ``counts[code point]`` times.

        Characters seen fewer than ``min_count`` times, and all but the ``max_size`` - 1
        most frequent when there are more than ``max_size``, are folded into one unknown
        symbol that the model learns like any other character.
        """
        present = np.flatnonzero(counts)
        keep = present[counts[present] >= min_count]
        if max_size is not None and len(keep) > max_size:
            order = np.lexsort((keep, -counts[keep]))          # by count, then code point
            keep = np.sort(keep[order[:max_size - 1]])
        chars = "".join(map(chr, keep))
        if len(keep) == len(present):
            return cls(chars)
        if UNKNOWN not in chars:
            chars = "".join(sorted(chars + UNKNOWN))
        return cls(chars, unknown=UNKNOWN)

    @classmethod
    def build(cls, text: str, min_count: int = 1, max_size: int | None = None):
        """Vocabulary of ``text`` and the text encoded as ids (chunked, vectorised)."""
        counts = np.zeros(0x110000, dtype=np.int64)
        for start in range(0, len(text), _CHUNK):
            _count(counts, _code_points(text[start:start + _CHUNK]))
        vocab = cls.from_counts(counts, min_count, max_size)
        return vocab, vocab.encode(text)

    def encode(self, text: str, strict: bool = True) -> np.ndarray:
        """str -> ids. Characters outside the vocabulary become the unknown symbol if the
        vocabulary has one; otherwise strict raises CharlstmError and non-strict drops
        them (see ``unknown``)."""
        out = []
        for start in range(0, len(text), _CHUNK):
            ids = self.encode_codes(_code_points(text[start:start + _CHUNK]))
            if (ids < 0).any():
                if strict:
                    raise CharlstmError("text has characters outside the vocabulary: "
                                        + self.describe(self.unknown(text)))
                ids = ids[ids >= 0]
            out.append(ids.astype(self.dtype))
        return np.concatenate(out) if out else np.zeros(0, self.dtype)

    def encode_codes(self, codes: np.ndarray) -> np.ndarray:
        """Code points -> int64 ids; -1 for characters outside the vocabulary (or the
        unknown symbol's id, when there is one)."""
        codes = codes.astype(np.int64, copy=False)
        inside = codes < len(self._lut)
        ids = np.full(len(codes), -1, dtype=np.int64)
        ids[inside] = self._lut[codes[inside]]
        if self.unknown_char is not None:
            ids[ids < 0] = self.unknown_id
        return ids

    def unknown(self, text: str) -> dict:
        """{character: count} for the characters of ``text`` not in the vocabulary."""
        codes, counts = np.unique(_code_points(text), return_counts=True)
        return {chr(c): int(n) for c, n in zip(codes, counts) if chr(c) not in self.stoi}

    def to_meta(self) -> dict:
        """What a checkpoint stores."""
        return {"vocab": self.chars, "vocab_unknown": self.unknown_char}

    @classmethod
    def from_meta(cls, meta: dict):
        """From a checkpoint's metadata (older checkpoints have no unknown symbol)."""
        return cls(meta["vocab"], unknown=meta.get("vocab_unknown"))

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in np.asarray(ids).ravel())

    @staticmethod
    def describe(chars) -> str:
        """Characters as a readable list: 'a', '\\n', 'é' (U+00E9)."""
        return ", ".join(f"{json.dumps(c, ensure_ascii=False)} (U+{ord(c):04X})" for c in chars)


# --------------------------------------------------------------------------- streaming, the id cache

CACHE_FORMAT = 1
CACHE_MIN_BYTES = 4 << 20          # smaller corpora are encoded in memory each time (< 0.1 s)
PROGRESS_MIN_BYTES = 32 << 20      # show progress bars for corpora at least this big


def cache_dir() -> Path:
    """Where encoded corpora are kept: $CHARLSTM_CACHE, else $XDG_CACHE_HOME/charlstm,
    else ~/.cache/charlstm."""
    if os.environ.get("CHARLSTM_CACHE"):
        return Path(os.environ["CHARLSTM_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "charlstm"


@dataclass
class EncodedCorpus:
    name: str                                          # short name, for run folders
    source: str                                        # what was read, for humans
    vocab: Vocab
    ids: np.ndarray                                    # (n,), memory-mapped when cached
    cache_file: Path | None = None                     # the id file, when cached
    from_cache: bool = False                           # True: nothing was read but the ids


def _stream(files, encoding, what, total_bytes, show):
    """The files' text as arrays of code points, chunk by chunk, in order."""
    from tqdm import tqdm
    try:
        make = codecs.getincrementaldecoder(encoding)
    except LookupError:
        raise CharlstmError(f"unknown encoding {encoding!r}; use a Python codec name "
                            "such as utf-8, latin-1 or cp1252")
    with tqdm(total=total_bytes, unit="B", unit_scale=True, desc=what, disable=not show,
              leave=False, file=sys.stderr, mininterval=1.0) as bar:
        for path in files:
            dec, offset = make(), 0
            try:
                fh = open(path, "rb")
            except OSError as e:
                raise CharlstmError(f"cannot read {path}: {e.strerror}")
            with fh:
                while True:
                    raw = fh.read(_READ)
                    if offset == 0 and b"\x00" in raw[:8192] and \
                            encoding.lower().replace("-", "") in ("utf8", "ascii"):
                        raise _binary_error(path, raw[:8192])
                    pending = len(dec.getstate()[0])
                    try:
                        text = dec.decode(raw, final=not raw)
                    except UnicodeDecodeError as e:
                        at = offset - pending + e.start
                        raise CharlstmError(
                            f"{path} is not valid {encoding}: byte offset {at} cannot be "
                            "decoded; pass --encoding with the file's real encoding "
                            "(e.g. latin-1)") from None
                    if text:
                        yield _code_points(text)
                    bar.update(len(raw))
                    offset += len(raw)
                    if not raw:
                        break


def _cache_key(name, files, encoding, min_count, max_vocab) -> str:
    ident = [CACHE_FORMAT, encoding, min_count, max_vocab]
    for f in files:
        st = f.stat()
        ident.append([str(f.resolve()), st.st_size, st.st_mtime_ns])
    digest = hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:20]
    return f"{name}-{digest}"


def _load_cached(dirpath: Path, key: str):
    """(vocab, ids memmap, path) from the cache, or None if absent or damaged."""
    meta_path, ids_path = dirpath / f"{key}.json", dirpath / f"{key}.ids"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        vocab = Vocab.from_meta(meta)
        n = int(meta["length"])
        if meta.get("format") != CACHE_FORMAT or ids_path.stat().st_size != n * vocab.dtype.itemsize:
            return None
        return vocab, np.memmap(ids_path, dtype=vocab.dtype, mode="r", shape=(n,)), ids_path
    except (OSError, ValueError, KeyError, CharlstmError):
        return None


def encode_corpus(corpus, encoding: str = "utf-8", min_count: int = 1,
                  max_vocab: int | None = None, cache: bool | None = None,
                  progress: bool = True) -> EncodedCorpus:
    """A corpus as ids, read in chunks so memory does not grow with its size.

    Two passes over the files: count every character (the vocabulary, with characters
    seen fewer than ``min_count`` times, or beyond the ``max_vocab`` most frequent, folded
    into one unknown symbol), then encode. The ids of a corpus of at least
    ``CACHE_MIN_BYTES`` (or any, with cache=True) are written to ``cache_dir()``, keyed
    by the files' paths, sizes and modification times and by the settings, and come back
    memory-mapped; the next run on the same corpus reads only that file.
    """
    name, source, files = _resolve(corpus)
    if isinstance(files, str):                         # a built-in corpus: small, in memory
        vocab, ids = Vocab.build(files, min_count, max_vocab)
        return EncodedCorpus(name, source, vocab, ids)
    size = sum(f.stat().st_size for f in files)
    dirpath = cache_dir()
    key = None
    if cache if cache is not None else size >= CACHE_MIN_BYTES:
        key = _cache_key(name, files, encoding, min_count, max_vocab)
        hit = _load_cached(dirpath, key)
        if hit is not None:
            return EncodedCorpus(name, source, hit[0], hit[1], hit[2], from_cache=True)
    show = progress and size >= PROGRESS_MIN_BYTES
    counts = np.zeros(0x110000, dtype=np.int64)
    for codes in _stream(files, encoding, "counting characters", size, show):
        _count(counts, codes)
    n = int(counts.sum())
    if n == 0:
        raise CharlstmError(f"corpus {corpus} is empty; it needs some text to learn from")
    vocab = Vocab.from_counts(counts, min_count, max_vocab)
    chunks = (vocab.encode_codes(c).astype(vocab.dtype)
              for c in _stream(files, encoding, "encoding", size, show))
    if key is not None:
        try:
            dirpath.mkdir(parents=True, exist_ok=True)
            path = _write_cache(dirpath, key, chunks, n, vocab, source)
            return EncodedCorpus(name, source, vocab,
                                 np.memmap(path, dtype=vocab.dtype, mode="r", shape=(n,)), path)
        except OSError as e:
            print(f"warning: cannot write the corpus cache in {dirpath} ({e.strerror}); "
                  "encoding in memory instead (set CHARLSTM_CACHE to a writable folder)",
                  file=sys.stderr)
            chunks = (vocab.encode_codes(c).astype(vocab.dtype)
                      for c in _stream(files, encoding, "encoding", size, show))
    ids = np.concatenate(list(chunks))
    if len(ids) != n:
        raise CharlstmError(f"corpus {corpus} changed while it was being read; try again")
    return EncodedCorpus(name, source, vocab, ids)


def _write_cache(dirpath, key, chunks, n, vocab, source) -> Path:
    """Write the id chunks and their description; the description is renamed into place
    last, so a crash leaves no half file that looks complete."""
    ids_path, meta_path = dirpath / f"{key}.ids", dirpath / f"{key}.json"
    tmp = dirpath / f"{key}.ids.tmp{os.getpid()}"
    written = 0
    try:
        with open(tmp, "wb") as fh:
            for c in chunks:
                fh.write(c.tobytes())
                written += len(c)
        if written != n:
            raise CharlstmError(f"corpus {source} changed while it was being read; try again")
        os.replace(tmp, ids_path)
    finally:
        tmp.unlink(missing_ok=True)
    meta = {"format": CACHE_FORMAT, "source": source, "length": n, **vocab.to_meta()}
    tmp_meta = dirpath / f"{key}.json.tmp{os.getpid()}"
    tmp_meta.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp_meta, meta_path)
    return ids_path


def cached_corpora() -> list[dict]:
    """What the cache holds: one {"source", "chars", "vocab", "bytes", "path"} per corpus."""
    d = cache_dir()
    out = []
    for meta_path in sorted(d.glob("*.json")) if d.is_dir() else []:
        ids = meta_path.with_suffix(".ids")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            out.append({"source": meta["source"], "chars": meta["length"],
                        "vocab": len(meta["vocab"]), "bytes": ids.stat().st_size, "path": ids})
        except (OSError, ValueError, KeyError):
            continue
    return out


def clear_cache() -> tuple[int, int]:
    """Delete every cached corpus; returns (files removed, bytes freed)."""
    files, freed = 0, 0
    d = cache_dir()
    for p in d.glob("*") if d.is_dir() else []:
        if p.suffix in (".ids", ".json") or ".tmp" in p.suffix:
            freed += p.stat().st_size
            p.unlink()
            files += 1
    return files, freed


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
