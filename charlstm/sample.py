"""Generating text from a model: temperature, top-k, top-p (nucleus), greedy, prime text.

A records model (trained with --records) writes one record at a time: ``iter_record``
starts each from a zero state and stops at its end-of-record symbol. ``stop_at`` cuts
any generated text after a stop string.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .data import Vocab
from .errors import CharlstmError
from .model import CharLSTM


def check_options(length=0, temperature=1.0, top_k=None, top_p=None):
    """Refuse impossible sampling options with a message that names the argument both
    ways: as the library's keyword and as the command line's flag."""
    if length < 0:
        raise CharlstmError(f"length (--length) must be 0 or more, got {length}")
    if not temperature > 0:
        raise CharlstmError(f"temperature (--temperature) must be greater than 0, got "
                            f"{temperature} (for argmax sampling use greedy=True, --greedy)")
    if top_k is not None and top_k < 1:
        raise CharlstmError(f"top_k (--top-k) must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise CharlstmError(f"top_p (--top-p) must be in (0, 1], got {top_p}")


def check_prime(vocab: Vocab, prime: str):
    """Refuse a prime text the model cannot read (before anything is printed)."""
    bad = vocab.unknown(prime) if prime else {}
    if bad and vocab.unknown_char is None:
        raise CharlstmError("prime text has characters outside the model's vocabulary: "
                            + Vocab.describe(bad))


def next_char_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """logits (V,) -> probabilities (V,) float64 after temperature, top-k and top-p."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    if top_k is not None and top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= kth, z, -np.inf)
    p = np.exp(z - z.max())
    p /= p.sum()
    if top_p is not None and top_p < 1:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[:int(np.searchsorted(cum, top_p)) + 1]   # smallest set with mass >= top_p
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return p


def _read(model: CharLSTM, ids):
    """A zero state after reading all but the last of ``ids`` (the fast sequence forward),
    and that last id, the first one ``model.step`` reads."""
    ids = np.asarray(ids, dtype=np.int64)[None, :]
    state = model.init_state(1)
    if ids.shape[1] > 1:
        _, state = model.forward(ids[:, :-1], state)
    return state, ids[:, -1]


def _choose(logits, temperature, top_k, top_p, greedy, rng) -> int:
    """The next symbol's id from logits (V,)."""
    if greedy:
        return int(np.argmax(logits))
    p = next_char_probs(logits, temperature, top_k, top_p)
    return min(int(np.searchsorted(np.cumsum(p), rng.random() * p.sum())), len(p) - 1)


def iter_sample(model: CharLSTM, vocab: Vocab, length: int, prime: str = "",
                temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                greedy: bool = False, rng: np.random.Generator | None = None,
                allow_unknown: bool = False) -> Iterator[str]:
    """Yield ``length`` generated characters, one at a time (after reading ``prime``).

    The prime text is read first (and not yielded: callers print it themselves), after a
    newline: the model starts as at the start of a line. From a zero state alone the first
    characters come out garbled ("ROMEO:&3TMANGIlE!"), since training shows a zero state
    once an epoch and a newline's state all the time. With no prime the model starts
    after that newline, or from a random character (yielded as the first one) when the
    vocabulary has no newline; then a prime is read from a zero state.
    A vocabulary with an unknown symbol (rare characters folded) never yields it unless
    ``allow_unknown``; prime characters outside the vocabulary are read as it.
    """
    check_options(length, temperature, top_k, top_p)
    rng = rng if rng is not None else np.random.default_rng()
    check_prime(vocab, prime)
    if length == 0:
        return
    banned = vocab.unknown_id if not allow_unknown else None
    if not prime and "\n" not in vocab.stoi:
        ch = int(rng.choice([i for i in range(len(vocab.chars)) if i != banned]))
        yield vocab.chars[ch]
        length -= 1
        prime_ids = np.array([ch])
    else:
        prime_ids = vocab.encode("\n" + prime if "\n" in vocab.stoi else prime)
    state, ids = _read(model, prime_ids)
    for _ in range(length):
        logits, state = model.step(ids, state)
        if banned is not None:
            logits[0, banned] = -np.inf
        if vocab.end:                                  # a records model's end symbol: not text
            logits[0, vocab.end_id] = -np.inf
        ch = _choose(logits[0], temperature, top_k, top_p, greedy, rng)
        yield vocab.chars[ch]
        ids = np.array([ch])


def sample(model: CharLSTM, vocab: Vocab, length: int, prime: str = "", *,
           seed: int | None = None, rng: np.random.Generator | None = None, **options) -> str:
    """The prime text followed by ``length`` generated characters, as one string.

        ck = charlstm.checkpoint.load("runs/demo/best.npz")
        text = sample(ck.model(), ck.vocab, 300, prime="def ", seed=0, temperature=0.8)

    seed: the same seed gives the same text (or pass ``rng``, a numpy Generator, which
    then moves on). The other options are ``iter_sample``'s, as the ``charlstm sample``
    flags: temperature (> 0, default 1), top_k, top_p (in (0, 1]), greedy (argmax),
    allow_unknown (let a vocabulary with rare characters folded emit its U+FFFD).
    """
    if seed is not None and rng is not None:
        raise CharlstmError("pass seed or rng, not both")
    rng = rng if rng is not None else np.random.default_rng(seed)
    return prime + "".join(iter_sample(model, vocab, length, prime, rng=rng, **options))


def iter_record(model: CharLSTM, vocab: Vocab, max_length: int, prime: str = "",
                temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                greedy: bool = False, rng: np.random.Generator | None = None,
                allow_unknown: bool = False) -> Iterator[str]:
    """Yield the characters of one record of a records model, after ``prime`` (its start,
    not yielded), until the model writes its end-of-record symbol or ``max_length``
    characters have been generated.

    The record is read as in training: from a zero state, the end symbol first.
    """
    if not vocab.end:
        raise CharlstmError("this model was trained on one stream of text, not on records; "
                            "sample it without the records options")
    check_options(max_length, temperature, top_k, top_p)
    rng = rng if rng is not None else np.random.default_rng()
    check_prime(vocab, prime)
    state, ids = _read(model, np.concatenate([[vocab.end_id], vocab.encode(prime)]))
    for _ in range(max_length):
        logits, state = model.step(ids, state)
        if not allow_unknown and vocab.unknown_id is not None:
            logits[0, vocab.unknown_id] = -np.inf
        ch = _choose(logits[0], temperature, top_k, top_p, greedy, rng)
        if ch == vocab.end_id:
            return
        yield vocab.chars[ch]
        ids = np.array([ch])


def sample_record(model, vocab, max_length, prime="", stop=(), **kw) -> str:
    """One record (prime included) as a string; ``stop``: as for ``stop_at``."""
    return prime + "".join(stop_at(iter_record(model, vocab, max_length, prime, **kw), stop))


def stop_at(chars: Iterable[str], stops: Iterable[str] = ()) -> Iterator[str]:
    """Pass ``chars`` through until one of the ``stops`` strings has been generated
    (it is yielded too), then stop drawing. An empty stop string is refused at once."""
    stops = list(stops)
    if any(not s for s in stops):
        raise CharlstmError("--stop needs some text (an empty string would stop at once)")
    return _until(chars, stops)


def _until(chars, stops):
    longest = max(map(len, stops), default=0)
    tail = ""
    for ch in chars:
        yield ch
        if longest:
            tail = (tail + ch)[-longest:]
            if any(tail.endswith(s) for s in stops):
                return


def read_text_file(path, flag: str = "--prime-file") -> str:
    """The text of a file given to ``flag`` (UTF-8), refused when missing, binary or empty."""
    from .data import _decode, _read
    path = Path(path)
    if not path.is_file():
        raise CharlstmError(f"{flag} file {path} not found")
    text = _decode(_read(path), path, "utf-8")
    if not text:
        raise CharlstmError(f"{flag} file {path} is empty")
    return text
