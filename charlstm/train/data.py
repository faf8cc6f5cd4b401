"""The data of a run: the corpus as training batches and the two validation views it
scores (TrainData), how many characters the periodic evaluations score
(``eval_slice_chars``), and the mean loss over batches (``evaluate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import (Batches, RecordBatches, Vocab, encode_corpus, fit_streams, read_records,
                    remap_ids, split, split_record_ids)
from ..model import CharLSTM
from .config import EvaluationStopped, TrainConfig


@dataclass
class TrainData:
    """The corpus as training batches and the two validation views the run scores.

    A stream corpus gives Batches (N contiguous streams, state carried); a records
    corpus (--records) gives RecordBatches (each record from a zero state) over a random
    sample of records held out (``load_records``).
    """
    name: str
    source: str
    vocab: object
    chars: int                                         # in the whole corpus
    from_cache: bool
    train: Batches                                     # or RecordBatches
    val_slice: Batches                                 # scored every --eval-every steps
    val_full: Batches                                  # scored at the end (may be val_slice)
    train_chars: int                                   # the sizes of the two splits
    val_chars: int                                     # (predictions, for records)
    slice_chars: int                                   # what val_slice predicts (kept on resume)
    warnings: list
    n_bytes: int = 0                                   # the corpus's size and content hash
    sha256: str = ""
    records: str | None = None                         # the records mode, or None: a stream
    n_records: tuple = ()                              # (train, val) records

    @classmethod
    def load(cls, corpus, cfg: TrainConfig, resumed_meta=None,
             base_vocab: Vocab | None = None) -> "TrainData":
        """base_vocab: a fine-tune's parent vocabulary; the run's is its union with the
        corpus's (``Vocab.merge``)."""
        if cfg.records:
            return cls.load_records(corpus, cfg, resumed_meta, base_vocab)
        c = encode_corpus(corpus, cfg.encoding, cfg.min_char_count, cfg.max_vocab,
                          progress=not cfg.quiet)      # ids memory-mapped for a big corpus
        vocab, ids = c.vocab, c.ids
        if base_vocab is not None:
            vocab = base_vocab.merge(c.vocab, end=False)
            ids = remap_ids(ids, vocab.lookup(c.vocab), vocab.dtype)
        train_ids, val_ids = split(ids, cfg.val_frac)
        T, total = cfg.seq_len, len(c.ids)
        N, warn_t = fit_streams(len(train_ids), cfg.batch_size, T, "training", total, cfg.val_frac)
        N_val, warn_v = fit_streams(len(val_ids), cfg.batch_size, T, "validation", total, cfg.val_frac)
        val_full = val_slice = Batches(val_ids, N_val, T, partial=True)
        # Periodic evaluations score the same slice, from the start of the split, every time.
        n_slice = eval_slice_chars(cfg, N, len(val_ids), resumed_meta)
        if n_slice < len(val_ids) - 1:
            N_slice, _ = fit_streams(n_slice + 1, N_val, T, "validation", total, cfg.val_frac)
            val_slice = Batches(val_ids[:n_slice + 1], N_slice, T, partial=True)
        return cls(c.name, c.source, vocab, total, c.from_cache, Batches(train_ids, N, T),
                   val_slice, val_full, len(train_ids), len(val_ids), n_slice,
                   [w for w in (warn_t, warn_v) if w], c.n_bytes, c.sha256)

    @classmethod
    def load_records(cls, corpus, cfg: TrainConfig, resumed_meta=None,
                     base_vocab: Vocab | None = None) -> "TrainData":
        """Records (``read_records``): the vocabulary of their characters plus the
        end-of-record symbol; a random, seeded --val-frac of the records held out."""
        rc = read_records(corpus, cfg.encoding, cfg.records)
        vocab, ids = Vocab.build("".join(rc.records), cfg.min_char_count, cfg.max_vocab,
                                 end=True)
        if base_vocab is not None:
            merged = base_vocab.merge(vocab, end=True)
            vocab, ids = merged, remap_ids(ids, merged.lookup(vocab), merged.dtype)
        lengths = np.array([len(r) for r in rc.records], dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
        train_idx, val_idx = split_record_ids(len(lengths), cfg.val_frac)
        N, T, end = cfg.batch_size, cfg.seq_len, vocab.end_id
        train = RecordBatches(ids, starts[train_idx], lengths[train_idx], end, N, T, seed=cfg.seed)
        val_full = val_slice = RecordBatches(ids, starts[val_idx], lengths[val_idx], end, N, T)
        n_val = val_full.chars_per_epoch
        # n_val + 1: a stream's n characters make n - 1 predictions; records' count all.
        n_slice = eval_slice_chars(cfg, N, n_val + 1, resumed_meta,
                                   chars_per_step=train.chars_per_epoch / len(train))
        if n_slice < n_val:                            # the first held-out records: a random sample
            m = int(np.searchsorted(np.cumsum(lengths[val_idx] + 1), n_slice)) + 1
            val_slice = RecordBatches(ids, starts[val_idx[:m]], lengths[val_idx[:m]], end, N, T)
        return cls(rc.name, rc.source, vocab, rc.chars, False, train, val_slice, val_full,
                   train.chars_per_epoch, n_val, val_slice.chars_per_epoch, [], rc.n_bytes,
                   rc.sha256, cfg.records, (train.records, val_full.records))

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train)


def eval_slice_chars(cfg: TrainConfig, N: int, n_val: int, resumed_meta=None,
                     chars_per_step: float | None = None) -> int:
    """How many validation characters the periodic evaluations score.

    --eval-chars 0: all of them. By default one eighth of the characters trained between
    two evaluations: a forward pass costs about a third of a training step, so evaluating
    takes about 4% of the run, whatever the corpus size. A resumed run keeps its slice, so
    its curve and its choice of best.npz stay comparable.
    """
    if resumed_meta is not None and resumed_meta.get("eval_slice_chars"):
        n = resumed_meta["eval_slice_chars"]
    elif cfg.eval_chars == 0:
        n = n_val
    elif cfg.eval_chars is not None:
        n = cfg.eval_chars
    else:
        per_step = chars_per_step if chars_per_step is not None else N * cfg.seq_len
        n = max(int(cfg.eval_every * per_step) // 8, 4 * cfg.seq_len)
    return min(n, n_val - 1)


def evaluate(model: CharLSTM, batches, stop=None) -> float:
    """Mean loss (nats per predicted character or end-of-record symbol) over every
    prediction of ``batches`` (Batches or RecordBatches): the state is carried from one
    batch to the next, and starts from zero where ``batches.resets`` says.

    stop: a function called before each batch; when it returns a reason (a string), the
    evaluation is given up: EvaluationStopped(reason).
    """
    state = model.init_state(batches.N)
    total, count = 0.0, 0
    for k in range(len(batches)):
        if stop is not None and (why := stop()):
            raise EvaluationStopped(why)
        x, y = batches.get(k)
        if batches.resets(k):
            state = model.init_state(x.shape[0])
        loss, state = model.loss(x, y, state)
        n = int((y >= 0).sum())                        # padding (-1) is not scored
        total += loss * n
        count += n
    return total / max(count, 1)
