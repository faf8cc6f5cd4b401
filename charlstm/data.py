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

A corpus of records (one name, title or line each) is read as a list of records
instead, each an independent sequence (``read_records``, ``RecordBatches``).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import math
import os
import re
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

    ``end``: the model of a records corpus has one more symbol, end-of-record, after the
    characters: id ``len(chars)`` (``end_id``). It is a symbol of the model, not a
    character: no text encodes to it and ``decode`` drops it. ``len(vocab)`` counts it.
    """

    def __init__(self, chars: str, unknown: str | None = None, end: bool = False):
        self.chars = "".join(chars)
        self.end = bool(end)
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        if unknown is not None and unknown not in self.stoi:
            raise CharlstmError(f"the unknown symbol {unknown!r} is not in the vocabulary")
        self.unknown_char = unknown
        codes = _code_points(self.chars)
        self._lut = np.full(int(codes.max(initial=0)) + 1, -1, dtype=np.int64)
        self._lut[codes] = np.arange(len(codes))
        self.dtype = id_dtype(max(len(self), 1))

    @property
    def unknown_id(self) -> int | None:
        return None if self.unknown_char is None else self.stoi[self.unknown_char]

    @property
    def end_id(self) -> int | None:
        """The end-of-record symbol's id (after the characters), or None."""
        return len(self.chars) if self.end else None

    def __len__(self):
        """The number of symbols the model predicts: the characters, and end-of-record."""
        return len(self.chars) + self.end

    def __eq__(self, other):
        return (isinstance(other, Vocab) and other.chars == self.chars
                and other.unknown_char == self.unknown_char and other.end == self.end)

    def merge(self, other: "Vocab", end: bool) -> "Vocab":
        """The union of two vocabularies (every character of either), with an
        end-of-record symbol if ``end``; it has an unknown symbol if either has one."""
        chars = "".join(sorted(set(self.chars) | set(other.chars)))
        unknown = UNKNOWN if (self.unknown_char or other.unknown_char) else None
        return Vocab(chars, unknown=unknown, end=end)

    def lookup(self, other: "Vocab") -> np.ndarray:
        """A table from ids in ``other`` to ids in this vocabulary (int64; -1: absent)."""
        ids = [self.stoi.get(c, -1) for c in other.chars]
        if other.end:
            ids.append(self.end_id if self.end else -1)
        return np.array(ids, dtype=np.int64)

    @classmethod
    def from_counts(cls, counts: np.ndarray, min_count: int = 1, max_size: int | None = None,
                    end: bool = False):
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
            return cls(chars, end=end)
        if UNKNOWN not in chars:
            chars = "".join(sorted(chars + UNKNOWN))
        return cls(chars, unknown=UNKNOWN, end=end)

    @classmethod
    def build(cls, text: str, min_count: int = 1, max_size: int | None = None,
              end: bool = False):
        """Vocabulary of ``text`` and the text encoded as ids (chunked, vectorised)."""
        counts = np.zeros(0x110000, dtype=np.int64)
        for start in range(0, len(text), _CHUNK):
            _count(counts, _code_points(text[start:start + _CHUNK]))
        vocab = cls.from_counts(counts, min_count, max_size, end)
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
        """What a checkpoint stores (vocab_end only for a vocabulary that has one)."""
        return {"vocab": self.chars, "vocab_unknown": self.unknown_char,
                **({"vocab_end": True} if self.end else {})}

    @classmethod
    def from_meta(cls, meta: dict):
        """From a checkpoint's metadata (older checkpoints have no unknown symbol and
        no end-of-record symbol)."""
        return cls(meta["vocab"], unknown=meta.get("vocab_unknown"),
                   end=meta.get("vocab_end", False))

    def decode(self, ids) -> str:
        """ids -> text; the end-of-record symbol is not a character and is dropped."""
        return "".join(self.chars[i] for i in np.asarray(ids).ravel() if i != self.end_id)

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
    n_bytes: int = 0                                   # the corpus's size and content hash
    sha256: str = ""                                   # (of the files' bytes, in order)


def _stream(files, encoding, what, total_bytes, show, digest=None):
    """The files' text as arrays of code points, chunk by chunk, in order; ``digest``
    (a hashlib object), if given, is fed every byte read."""
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
                    if digest is not None:
                        digest.update(raw)
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
    """(vocab, ids memmap, path, sha256) from the cache, or None if absent or damaged
    (or written before the cache kept the content hash)."""
    meta_path, ids_path = dirpath / f"{key}.json", dirpath / f"{key}.ids"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        vocab = Vocab.from_meta(meta)
        n = int(meta["length"])
        if (meta.get("format") != CACHE_FORMAT or not meta.get("sha256")
                or ids_path.stat().st_size != n * vocab.dtype.itemsize):
            return None
        return (vocab, np.memmap(ids_path, dtype=vocab.dtype, mode="r", shape=(n,)), ids_path,
                meta["sha256"])
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
    The corpus's size in bytes and the sha256 of its bytes come with the ids (a resumed
    run checks that its corpus has not changed).
    """
    name, source, files = _resolve(corpus)
    if isinstance(files, str):                         # a built-in corpus: small, in memory
        vocab, ids = Vocab.build(files, min_count, max_vocab)
        raw = files.encode("utf-8")
        return EncodedCorpus(name, source, vocab, ids, n_bytes=len(raw),
                             sha256=hashlib.sha256(raw).hexdigest())
    size = sum(f.stat().st_size for f in files)
    dirpath = cache_dir()
    key = None
    if cache if cache is not None else size >= CACHE_MIN_BYTES:
        key = _cache_key(name, files, encoding, min_count, max_vocab)
        hit = _load_cached(dirpath, key)
        if hit is not None:
            return EncodedCorpus(name, source, *hit[:3], from_cache=True, n_bytes=size,
                                 sha256=hit[3])
    show = progress and size >= PROGRESS_MIN_BYTES
    counts = np.zeros(0x110000, dtype=np.int64)
    digest = hashlib.sha256()
    for codes in _stream(files, encoding, "counting characters", size, show, digest):
        _count(counts, codes)
    sha = digest.hexdigest()
    n = int(counts.sum())
    if n == 0:
        raise CharlstmError(f"corpus {corpus} is empty; it needs some text to learn from")
    vocab = Vocab.from_counts(counts, min_count, max_vocab)
    chunks = (vocab.encode_codes(c).astype(vocab.dtype)
              for c in _stream(files, encoding, "encoding", size, show))
    if key is not None:
        try:
            dirpath.mkdir(parents=True, exist_ok=True)
            path = _write_cache(dirpath, key, chunks, n, vocab, source, sha)
            return EncodedCorpus(name, source, vocab,
                                 np.memmap(path, dtype=vocab.dtype, mode="r", shape=(n,)), path,
                                 n_bytes=size, sha256=sha)
        except OSError as e:
            print(f"warning: cannot write the corpus cache in {dirpath} ({e.strerror}); "
                  "encoding in memory instead (set CHARLSTM_CACHE to a writable folder)",
                  file=sys.stderr)
            chunks = (vocab.encode_codes(c).astype(vocab.dtype)
                      for c in _stream(files, encoding, "encoding", size, show))
    ids = np.concatenate(list(chunks))
    if len(ids) != n:
        raise CharlstmError(f"corpus {corpus} changed while it was being read; try again")
    return EncodedCorpus(name, source, vocab, ids, n_bytes=size, sha256=sha)


def _write_cache(dirpath, key, chunks, n, vocab, source, sha256) -> Path:
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
    meta = {"format": CACHE_FORMAT, "source": source, "length": n, "sha256": sha256,
            **vocab.to_meta()}
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


def remap_ids(ids: np.ndarray, table: np.ndarray, dtype) -> np.ndarray:
    """ids -> table[ids] as ``dtype``, in chunks (a big corpus never becomes int64 whole)."""
    out = np.empty(len(ids), dtype)
    for start in range(0, len(ids), _CHUNK):
        out[start:start + _CHUNK] = table[ids[start:start + _CHUNK]]
    return out


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

    def get(self, k: int, epoch: int = 0):
        """Batch k: x, y (N, T) int64 (T shorter for a final partial batch). The streams
        are the same every epoch."""
        s = slice(k * self.T, (k + 1) * self.T)
        return self.x[:, s].astype(np.int64), self.y[:, s].astype(np.int64)

    def resets(self, k: int, epoch: int = 0) -> bool:
        """Whether batch k starts from a zero state: only the first of an epoch."""
        return k == 0

    def chars_seen(self, step: int) -> int:
        """Characters predicted in the first ``step`` training batches."""
        return step * self.N * self.T


# --------------------------------------------------------------------------- records

RECORD_MODES = ("lines", "paragraphs")


def split_records(text: str, mode: str) -> list[str]:
    """The records of a text, in order; empty ones are skipped.

    lines:       each line, its surrounding whitespace removed (as makemore reads names)
    paragraphs:  each block of lines between blank lines, its lines' trailing whitespace
                 removed (indentation kept), its lines joined by newlines
    """
    if mode == "lines":
        return [r for r in (line.strip() for line in text.split("\n")) if r]
    if mode == "paragraphs":
        blocks = re.split(r"\n[^\S\n]*\n", text)    # a line of only spaces is blank too
        out = []
        for b in blocks:
            r = "\n".join(line.rstrip() for line in b.split("\n")).strip("\n")
            if r.strip():
                out.append(r)
        return out
    raise CharlstmError(f"--records must be one of {', '.join(RECORD_MODES)}, got {mode!r}")


@dataclass
class RecordCorpus:
    name: str                                          # short name, for run folders
    source: str                                        # what was read, for humans
    records: list                                      # the records (str), in file order
    chars: int                                         # in the whole corpus
    n_bytes: int                                       # the corpus's size and content hash
    sha256: str


def read_records(corpus, encoding: str, mode: str) -> RecordCorpus:
    """A corpus (file, folder of .txt files or built-in name) as records (``split_records``),
    read whole into memory, with the size and sha256 of its bytes."""
    name, source, files = _resolve(corpus)
    if isinstance(files, str):
        raw = [files.encode("utf-8")]
        text = files
    else:
        raw = [_read(f) for f in files]
        text = "".join(_decode(r, f, encoding) for r, f in zip(raw, files))
    digest = hashlib.sha256()
    for r in raw:
        digest.update(r)
    records = split_records(text, mode)
    if not records:
        what = "line" if mode == "lines" else "paragraph"
        raise CharlstmError(f"corpus {corpus} has no records: every {what} is empty; "
                            "it needs some text to learn from")
    return RecordCorpus(name, source, records, len(text), sum(map(len, raw)),
                        digest.hexdigest())


def split_record_ids(n_records: int, val_frac: float, seed: int = 0):
    """A random, seeded choice of records for validation: (train, val) index arrays.

    Records are often sorted (names by popularity, titles by date), so the last
    fraction of the file would not be a fair sample. The split depends only on the
    number of records and ``val_frac``, not on the run's --seed.
    """
    n_val = int(round(n_records * val_frac))
    if n_val < 1 or n_val >= n_records:
        raise CharlstmError(
            f"the corpus has {n_records} records, too few to hold out --val-frac {val_frac:g} "
            f"of them for validation and train on the rest; it needs at least "
            f"{math.ceil(1 / min(val_frac, 1 - val_frac))} records (or change --val-frac)")
    order = np.random.default_rng(seed).permutation(n_records)
    return order[n_val:], order[:n_val]


class RecordBatches:
    """Records as batches: each row one record (or one piece of it), read from a zero state.

    A record r is read as x = [END] r and predicts y = r [END]: the end-of-record symbol
    starts it (as makemore's <START>) and is learned after its last character, so every
    record has len(r) + 1 predictions. A record longer than T is cut into pieces of T,
    read in consecutive batches with the state carried from one piece to the next.

    Records with the same number of pieces form groups of up to N rows; a group's
    batches follow each other, and only its first starts from a zero state (``resets``).
    Within a group the rows are records of about the same length (sorted by length,
    ties in random order), so the padding after the shorter ones (targets -1, not
    scored) stays small, and a batch is only as long as its longest row. With
    ``seed``, every epoch deals the records into new groups and shuffles the groups'
    order (from seed and epoch: a resumed run sees the same batches); without, the
    order is fixed (validation).
    """

    def __init__(self, ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                 end_id: int, N: int, T: int, seed: int | None = None):
        self.ids = ids                                 # all records' ids, back to back
        self.starts = np.asarray(starts, dtype=np.int64)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.end_id, self.N, self.T, self.seed = end_id, N, T, seed
        self.pieces = -(-(self.lengths + 1) // T)      # batches each record needs
        ks, counts = np.unique(self.pieces, return_counts=True)
        self.num_batches = int(sum(k * math.ceil(c / N) for k, c in zip(ks, counts)))
        self.chars_per_epoch = int((self.lengths + 1).sum())   # predictions
        self.records = len(self.lengths)
        self._plans = {}

    def __len__(self):
        return self.num_batches

    def plan(self, epoch: int = 0) -> list:
        """The epoch's batches, in order: (records (rows), piece) each."""
        return self._plan(epoch)[0]

    def _plan(self, epoch):
        """(the epoch's plan, predictions before each of its batches); the last is kept."""
        key = epoch if self.seed is not None else 0
        if key not in self._plans:
            rng = np.random.default_rng([self.seed, key]) if self.seed is not None else None
            groups = []
            for k in np.unique(self.pieces):
                members = np.flatnonzero(self.pieces == k)
                if rng is not None:
                    members = rng.permutation(members)
                members = members[np.argsort(self.lengths[members], kind="stable")]
                n_groups = math.ceil(len(members) / self.N)
                groups += [(g, k) for g in np.array_split(members, n_groups)]
            if rng is not None:
                groups = [groups[i] for i in rng.permutation(len(groups))]
            plan = [(rows, j) for rows, k in groups for j in range(k)]
            counts = [np.clip(self.lengths[rows] + 1 - j * self.T, 0, self.T).sum()
                      for rows, j in plan]
            self._plans = {key: (plan, np.concatenate([[0], np.cumsum(counts)]))}
        return self._plans[key]

    def get(self, k: int, epoch: int = 0):
        """Batch k of an epoch: x, y (n, t) int64, n <= N rows, t <= T steps; y is -1
        where a row has ended (padding)."""
        rows, j = self.plan(epoch)[k]
        start, L = self.starts[rows][:, None], self.lengths[rows][:, None]
        t = int(min(self.T, self.lengths[rows].max() + 1 - j * self.T))
        P = j * self.T + np.arange(t)[None, :]         # positions in [END] r
        last = len(self.ids) - 1
        x = self.ids[np.clip(start + P - 1, 0, last)].astype(np.int64)
        x[(P == 0) | (P > L)] = self.end_id            # x_0 = END; padding reads END too
        y = self.ids[np.clip(start + P, 0, last)].astype(np.int64)
        y[P == L] = self.end_id
        y[P > L] = -1
        return x, y

    def resets(self, k: int, epoch: int = 0) -> bool:
        """Whether batch k starts from a zero state: the first batch of each group."""
        return self.plan(epoch)[k][1] == 0

    def chars_seen(self, step: int) -> int:
        """Predictions (characters and end symbols) in the first ``step`` training batches."""
        epoch, k = divmod(step, self.num_batches)
        done = epoch * self.chars_per_epoch
        return done if k == 0 else done + int(self._plan(epoch)[1][k])
