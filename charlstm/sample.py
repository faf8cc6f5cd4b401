"""Generating text from a model: temperature, top-k, top-p (nucleus), greedy, prime text."""

from __future__ import annotations

from typing import Iterator

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


def iter_sample(model: CharLSTM, vocab: Vocab, length: int, prime: str = "",
                temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                greedy: bool = False, rng: np.random.Generator | None = None,
                allow_unknown: bool = False) -> Iterator[str]:
    """Yield ``length`` generated characters, one at a time (after reading ``prime``).

    The prime text is read first (and not yielded: callers print it themselves). With no
    prime the model starts after a newline, as at the start of a line, or from a random
    character (yielded as the first one) when the vocabulary has no newline.
    A vocabulary with an unknown symbol (rare characters folded) never yields it unless
    ``allow_unknown``; prime characters outside the vocabulary are read as it.
    """
    check_options(length, temperature, top_k, top_p)
    rng = rng if rng is not None else np.random.default_rng()
    check_prime(vocab, prime)
    if length == 0:
        return
    state = model.init_state(1)
    banned = vocab.unknown_id if not allow_unknown else None
    if not prime and "\n" not in vocab.stoi:
        ch = int(rng.choice([i for i in range(len(vocab)) if i != banned]))
        yield vocab.chars[ch]
        length -= 1
        prime_ids = np.array([[ch]])
    else:
        prime_ids = vocab.encode(prime or "\n")[None, :].astype(np.int64)
    # Read all but the last prime character with the fast sequence forward.
    if prime_ids.shape[1] > 1:
        _, state = model.forward(prime_ids[:, :-1], state)
    ids = prime_ids[:, -1]
    for _ in range(length):
        logits, state = model.step(ids, state)
        if banned is not None:
            logits[0, banned] = -np.inf
        if greedy:
            ch = int(np.argmax(logits[0]))
        else:
            p = next_char_probs(logits[0], temperature, top_k, top_p)
            ch = min(int(np.searchsorted(np.cumsum(p), rng.random() * p.sum())), len(p) - 1)
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
