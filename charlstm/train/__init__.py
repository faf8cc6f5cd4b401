"""The training loop: truncated BPTT over char-rnn batches, evaluation, checkpoints, resume.

    from charlstm.train import TrainConfig, train
    result = train("python-docs", TrainConfig(minutes=1), run_dir="runs/demo")

A run folder holds config.json, metrics.csv, latest.npz, best.npz, loss.png and
samples.txt. ``train(..., resume="runs/demo")`` continues it exactly where it stopped;
``train("other.txt", cfg, init_from="runs/demo/best.npz")`` starts a new run (a fine-tune)
from its weights. ``TrainConfig(records="lines")`` trains on records (one name or title
per line), each an independent sequence.

Reading order: ``train()`` (settings, data, folder) -> ``Trainer.run()`` (the loop) ->
the Trainer's steps (``next_batch``, ``count``, ``evaluate``, ``save``, ``finish``).
``RunFolder`` owns the files, ``Budget`` the stopping rules, ``TrainData`` the batches.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import checkpoint as ckpt
from .. import sizing
from ..data import (RECORD_MODES, Batches, RecordBatches, Vocab, encode_corpus, fit_streams,
                    read_records, remap_ids, split, split_record_ids)
from ..errors import CharlstmError, ConfigError
from ..model import CharLSTM, ModelConfig, init_params
from ..optim import OPTIMIZERS, SCHEDULES, clip_grads, decay_weights, learning_rate, make_optimizer
from ..plot import plot_runs, read_metrics
from ..sample import sample, sample_record

DEFAULT_MINUTES = 10.0
METRICS = ["step", "epoch", "chars", "train_loss", "val_loss", "val_bpc", "lr", "grad_norm",
           "chars_per_s", "elapsed_s", "val_chars", "val_full", "eval_s"]
# train_loss: the training batches' loss, smoothed over recent steps (an exponential
# moving average with a time constant of eval_every / 4 steps, as min-char-rnn smooths
# its loss; dropout on); grad_norm: the mean gradient norm since the previous row;
# val_loss: on the fixed evaluation slice of val_chars characters (the start of the
# validation split); val_full: on the whole split, in the last row of each invocation;
# eval_s: seconds spent evaluating so far in this invocation.


@dataclass
class TrainConfig:
    # model
    hidden_size: int = 256
    num_layers: int = 2
    cell: str = "lstm"
    embed_size: int = 64
    dropout: float = 0.2                               # between layers and before the output
    embed_dropout: float | None = 0.0                  # on the embedding; None: as dropout
    dtype: str = "float32"
    auto_size: bool = True                             # a time-budget run picks size and dropout (sizing.py)
    # data
    seq_len: int = 64
    batch_size: int = 32
    val_frac: float = 0.1
    encoding: str = "utf-8"
    min_char_count: int = 1                            # rarer characters fold into one unknown symbol
    max_vocab: int | None = None                       # keep at most this many symbols (unknown included)
    records: str | None = None                         # lines or paragraphs: independent records
    # optimisation
    optimizer: str = "adam"
    lr: float = 5e-3                                   # the peak: the rate decays from it
    momentum: float = 0.9
    lr_schedule: str = "linear"                        # to min_lr at the end of the budget
    lr_decay: float = 0.5
    lr_decay_every: int = 1
    warmup_steps: int = 20
    min_lr: float = 0.0
    weight_decay: float = 0.05                         # decoupled (AdamW), on weight matrices
    grad_clip: float = 5.0
    clip_mode: str = "norm"
    seed: int = 0
    # stopping: these, and the fields below, may change when a run is resumed
    epochs: float | None = None
    max_steps: int | None = None
    minutes: float | None = None
    # evaluation and logging
    eval_every: int = 200
    eval_chars: int | None = None                      # None: auto (a small share of the run); 0: all
    checkpoint_every: int = 1000
    sample_chars: int = 200
    quiet: bool = False
    threads: int = 0                                   # 0: auto (model.auto_threads)
    stop_eval_seconds: float = 5.0                     # after a stop signal; 0: no final evaluation

    def model_config(self, vocab_size: int) -> ModelConfig:
        return ModelConfig(vocab_size=vocab_size, hidden_size=self.hidden_size,
                           num_layers=self.num_layers, cell=self.cell,
                           embed_size=self.embed_size, dropout=self.dropout,
                           embed_dropout=self.embed_dropout)

    def validate(self):
        """Refuse impossible values before any work starts."""
        self.model_config(1).validate()
        checks = [
            (self.dtype in ("float32", "float64"), f"--dtype must be float32 or float64, got {self.dtype!r}"),
            (self.seq_len >= 1, f"--seq-len must be at least 1, got {self.seq_len}"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (0 < self.val_frac < 1, f"--val-frac must be in (0, 1), got {self.val_frac}"),
            (self.min_char_count >= 1, f"--min-char-count must be at least 1, got {self.min_char_count}"),
            (self.max_vocab is None or self.max_vocab >= 2, f"--max-vocab must be at least 2, got {self.max_vocab}"),
            (self.records in (None, *RECORD_MODES), f"--records must be one of {', '.join(RECORD_MODES)}, got {self.records!r}"),
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"),
            (self.lr > 0 and math.isfinite(self.lr), f"--lr must be greater than 0, got {self.lr}"),
            (self.weight_decay >= 0 and math.isfinite(self.weight_decay), f"--weight-decay must be 0 or more, got {self.weight_decay}"),
            (0 <= self.momentum < 1, f"--momentum must be in [0, 1), got {self.momentum}"),
            (self.lr_schedule in SCHEDULES, f"--lr-schedule must be one of {', '.join(SCHEDULES)}, got {self.lr_schedule!r}"),
            (0 < self.lr_decay <= 1, f"--lr-decay must be in (0, 1], got {self.lr_decay}"),
            (self.lr_decay_every >= 1, f"--lr-decay-every must be at least 1 epoch, got {self.lr_decay_every}"),
            (self.warmup_steps >= 0, f"--warmup-steps must be 0 or more, got {self.warmup_steps}"),
            (0 <= self.min_lr <= self.lr, f"--min-lr must be in [0, --lr], got {self.min_lr}"),
            (self.grad_clip >= 0, f"--grad-clip must be 0 (off) or more, got {self.grad_clip}"),
            (self.clip_mode in ("norm", "value"), f"--clip-mode must be norm or value, got {self.clip_mode!r}"),
            (self.epochs is None or self.epochs > 0, f"--epochs must be greater than 0, got {self.epochs}"),
            (self.max_steps is None or self.max_steps >= 1, f"--max-steps must be at least 1, got {self.max_steps}"),
            (self.minutes is None or self.minutes > 0, f"--minutes must be greater than 0, got {self.minutes}"),
            (self.eval_every >= 1, f"--eval-every must be at least 1, got {self.eval_every}"),
            (self.eval_chars is None or self.eval_chars >= 0, f"--eval-chars must be 0 (the whole split) or more, got {self.eval_chars}"),
            (self.checkpoint_every >= 1, f"--checkpoint-every must be at least 1, got {self.checkpoint_every}"),
            (self.sample_chars >= 0, f"--sample-chars must be 0 or more, got {self.sample_chars}"),
            (self.threads >= 0, f"--threads must be 0 (auto) or more, got {self.threads}"),
            (self.stop_eval_seconds >= 0, f"--stop-eval-seconds must be 0 or more, got {self.stop_eval_seconds}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self


# Fields that define the model, the data and the optimisation: a resumed run keeps them.
MUTABLE = ["epochs", "max_steps", "minutes", "eval_every", "checkpoint_every",
           "sample_chars", "quiet", "threads", "stop_eval_seconds"]
FIXED = [f.name for f in fields(TrainConfig) if f.name not in MUTABLE]
# Fields added after runs were saved without them, whose default is not what those runs did.
BEFORE_FIELD = {"embed_dropout": None,                 # the embedding had --dropout
                "auto_size": False}
# The defaults of a records run (--records) where they differ from a stream's, measured
# on names.txt (docs/records-and-finetuning.md); flags the user sets win.
RECORDS_DEFAULTS = {"lr": 8e-3, "dropout": 0.4}
# The flags of the fields that give a model its shape (--init-from takes them from its checkpoint).
SHAPE_FLAGS = {"hidden_size": "--hidden-size", "num_layers": "--layers", "cell": "--cell",
               "embed_size": "--embed-size"}


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    best_val_loss: float
    last_val_loss: float
    stopped_by: str                                    # steps, epochs, time, interrupt, nan
    full_val_loss: float = math.nan                    # on the whole validation split, at the end
    signal: str | None = None                          # SIGINT, SIGTERM or SIGHUP (an interrupt)
    best_full_val_loss: float = math.nan               # best.npz's weights on the whole split
    best_step: int | None = None                       # the step best.npz was saved at


class Diverged(CharlstmError):
    """The loss or the gradient became NaN or infinite."""


class RunFolderError(CharlstmError):
    """Writing the run folder failed (no space, read-only, removed, no permission)."""


class EvaluationStopped(Exception):
    """An evaluation given up between two batches (``evaluate(stop=...)``)."""


# --------------------------------------------------------------------------- helpers

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


def _resolve_resume(resume) -> tuple[Path, Path]:
    """--resume RUN_DIR or CKPT -> (run folder, checkpoint file)."""
    p = Path(resume)
    if p.is_dir():
        if not (p / "latest.npz").exists():
            raise CharlstmError(f"cannot resume {p}: it has no latest.npz")
        return p, p / "latest.npz"
    if not p.exists():
        raise CharlstmError(f"cannot resume {p}: no such run folder or checkpoint")
    return p.parent, p


def _default_run_dir(corpus_name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{corpus_name}-{stamp}"


STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")      # Ctrl-C; kill, timeout, schedulers; a closed terminal


class _StopFlag:
    """Ctrl-C, SIGTERM and SIGHUP set a flag the loop checks between steps, so no update
    is cut in half, and the run ends as at its limit: a final evaluation, latest.npz.

    After the first signal the final evaluation may take ``eval_seconds`` (then it is
    cut short, between two batches); a second signal skips what is left of it. A third,
    while the run is still in a step (a long one: a big model), ends the process at once
    as an uncaught signal does, after the checkpoint being written if one is; once the
    run is finishing, only the save of latest.npz is left, and it is waited for. The
    handlers only count: the loop does the rest.
    """

    def __init__(self, eval_seconds: float = 5.0, clock=time.perf_counter):
        self.eval_seconds, self.clock = eval_seconds, clock
        self.count, self.signum, self.at = 0, None, None
        self.saving, self.finishing, self._pending = False, False, None
        self._old = {}

    @property
    def set(self) -> bool:
        return self.count > 0

    @property
    def name(self) -> str | None:
        return signal.Signals(self.signum).name if self.signum is not None else None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for name in STOP_SIGNALS:
                if hasattr(signal, name):              # SIGHUP is POSIX only
                    sig = getattr(signal, name)
                    self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.count += 1
        if self.count == 1:
            self.signum, self.at = signum, self.clock()
        elif self.count >= 3 and not self.finishing:
            if self.saving:                            # let the checkpoint be whole first
                self._pending = signum
            else:
                self._die(signum)

    def _die(self, signum):
        self.__exit__()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    @contextmanager
    def saving_checkpoint(self):
        self.saving = True
        try:
            yield
        finally:
            self.saving = False
            if self._pending is not None and not self.finishing:
                self._die(self._pending)

    def evaluation_cut(self) -> str | None:
        """Why the final evaluation must stop now (None: go on)."""
        if self.count >= 2:
            return f"a second {self.name}"
        if self.clock() - self.at >= self.eval_seconds:
            return f"--stop-eval-seconds {self.eval_seconds:g} ran out"
        return None

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}


class _Stderr:
    """Where the log lines and the progress bar go: stderr, except that once the terminal
    is gone (a hang-up: every write fails with EIO) the lines are dropped, so the run
    still finishes its step and saves."""

    def write(self, text):
        try:
            return sys.stderr.write(text)
        except OSError:
            return len(text)

    def flush(self):
        try:
            sys.stderr.flush()
        except OSError:
            pass

    def __getattr__(self, name):                       # isatty, fileno, encoding: stderr's
        return getattr(sys.stderr, name)


_STDERR = _Stderr()


def _describe_signal(name: str) -> str:
    return {"SIGINT": "Ctrl-C (SIGINT)", "SIGHUP": "SIGHUP (the terminal closed)"}.get(name, name)


# --------------------------------------------------------------------------- the pieces

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


class RunFolder:
    """The files of a run; nothing else in the trainer touches them.

    config.json   the settings, the corpus and the command
    metrics.csv   a row per evaluation (METRICS), rewritten atomically
    latest.npz    the checkpoint to resume from; best.npz the lowest validation loss
    samples.txt   text sampled at each evaluation;  loss.png the curves

    Every file is replaced whole (a temporary file renamed over it) or appended to (a
    failed append is cut back), so a failed write leaves nothing half-written; the
    failure becomes one RunFolderError line (``failure``).
    """
    FILES = ("config.json", "metrics.csv", "latest.npz", "best.npz", "loss.png", "samples.txt")

    def __init__(self, path):
        self.path = Path(path)
        self.metrics_file = self.path / "metrics.csv"

    @classmethod
    def create(cls, path, overwrite=False) -> "RunFolder":
        """A folder for a new run; one that holds another run is refused unless overwrite."""
        path = Path(path)
        if path.exists() and any(path.iterdir()):
            if not overwrite:
                raise CharlstmError(f"run folder {path} already exists; pass --resume {path} "
                                    "to continue it, --overwrite to replace it, or choose "
                                    "another --run-dir")
            for name in cls.FILES:                     # only the run's own files go
                with cls(path)._writing(name):
                    (path / name).unlink(missing_ok=True)
        return cls.reopen(path)

    @classmethod
    def reopen(cls, path) -> "RunFolder":
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CharlstmError(f"cannot create run folder {path}: {e.strerror}")
        return cls(path)

    # ---------------------------------------------------------------- writing, and failing

    @contextmanager
    def _writing(self, name, tmp: Path | None = None):
        """Any OSError while writing file ``name`` becomes one RunFolderError line;
        ``tmp``, a temporary file, is removed."""
        try:
            yield
        except OSError as e:
            if tmp is not None:
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass
            raise RunFolderError(self.failure(name, e)) from None

    def _replace(self, name, data: bytes):
        """Write file ``name`` whole: a temporary file beside it, renamed over it."""
        tmp = self.path / f".{name}.tmp"
        with self._writing(name, tmp):
            tmp.write_bytes(data)
            os.replace(tmp, self.path / name)

    def _append(self, name, data: bytes):
        """Append to file ``name``; an append that fails half-way is cut back."""
        with self._writing(name):
            fd = os.open(self.path / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                size = os.lseek(fd, 0, os.SEEK_END)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                except OSError:
                    os.ftruncate(fd, size)
                    raise
            finally:
                os.close(fd)

    def failure(self, name, e: OSError) -> str:
        """The line a failed write ends the run with: what failed, whether the checkpoints
        saved before are intact (each is loaded, which checks its CRCs and its shapes),
        and how to go on, here or on another disk."""
        path = self.path
        what = f"cannot write {path / name}: {e.strerror or e}"
        if not path.is_dir():
            return (f"{what} (the run folder {path} was removed); no checkpoint of this run "
                    "is left, so start it again")
        kept, damaged = [], []
        for ck_name in ("latest.npz", "best.npz"):
            if (path / ck_name).exists():
                try:
                    kept.append(f"{ck_name} (step {ckpt.load(path / ck_name).meta['step']})")
                except (CharlstmError, KeyError):
                    damaged.append(ck_name)
        state = ("no checkpoint had been saved yet" if not kept else
                 f"the checkpoint{'s' if len(kept) > 1 else ''} saved before "
                 f"{'are' if len(kept) > 1 else 'is'} intact (loaded and checked): "
                 + " and ".join(kept))
        if damaged:
            state += f"; {' and '.join(damaged)} did not load"
        fix = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space (the disk quota is full)",
               errno.EROFS: "make the filesystem writable (it is read-only)", errno.EACCES: "fix the folder's permissions",
               errno.EPERM: "fix the folder's permissions"}.get(e.errno, "fix that")
        if any(k.startswith("latest.npz") for k in kept):
            how = (f"{fix} and resume with: charlstm train --resume {path}; or resume on another "
                   f"disk: cp -r {path} OTHER_DISK/ && charlstm train --resume "
                   f"OTHER_DISK/{path.name}")
        else:
            how = f"{fix} and start the run again (or with another --run-dir)"
        return f"{what}; {state}; {how}"

    # ---------------------------------------------------------------- the files

    def write_config(self, config: dict):
        self._replace("config.json", (json.dumps(config, indent=2, ensure_ascii=False)
                                      + "\n").encode("utf-8"))

    def read_metrics(self) -> list[dict]:
        if not self.metrics_file.exists():
            return []
        with open(self.metrics_file, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    @staticmethod
    def _csv(rows, header=False) -> bytes:
        f = io.StringIO(newline="")
        w = csv.DictWriter(f, METRICS)
        if header:
            w.writeheader()
        w.writerows(rows)
        return f.getvalue().encode("utf-8")

    def write_metrics(self, rows):
        self._replace("metrics.csv", self._csv(rows, header=True))

    def start_metrics(self, through_step: int | None) -> list[dict]:
        """Start metrics.csv: empty for a new run (through_step None); a resumed run keeps
        the rows up to its checkpoint's step and drops any written after it (by a run that
        stopped between two checkpoints). Returns the rows kept."""
        rows = ([] if through_step is None else
                [r for r in self.read_metrics() if int(r["step"]) <= through_step])
        self.write_metrics(rows)
        return rows

    def append_metrics(self, row: dict):
        self._append("metrics.csv", self._csv([row]))

    def amend_last_metrics(self, **values):
        rows = self.read_metrics()
        rows[-1].update(values)
        self.write_metrics(rows)

    def save_checkpoint(self, name, meta, model, opt, state):
        with self._writing(name):                      # ckpt.save removes its temporary file
            ckpt.save(self.path / name, meta, model.params, opt.state_dict(), state)

    def update_meta(self, name, ck, **fields):
        """Rewrite checkpoint ``name`` (loaded as ``ck``) with ``fields`` in its metadata."""
        with self._writing(name):
            ckpt.save(self.path / name, dict(ck.meta, **fields), ck.params, ck.optim, ck.state)

    def best_saved_loss(self) -> float:
        """best.npz's validation loss (it may be newer than latest.npz), or inf."""
        if not (self.path / "best.npz").exists():
            return math.inf
        saved = ckpt.load(self.path / "best.npz").meta.get("best_val_loss")
        return saved if saved is not None else math.inf

    def append_sample(self, step, val, text, unit="char"):
        self._append("samples.txt", f"--- step {step}, val loss {val:.4f} nats/{unit}\n{text}\n\n"
                     .encode("utf-8"))

    def replot(self):
        tmp = self.path / ".loss.tmp.png"              # the suffix tells matplotlib the format
        with self._writing("loss.png", tmp):
            try:
                plot_runs([(self.path.name, read_metrics(self.metrics_file))], tmp)
            except CharlstmError:
                return                                 # nothing to draw yet
            os.replace(tmp, self.path / "loss.png")


class Budget:
    """When the run stops, and how much of its budget it has used.

    The step and epoch limits are totals for the run; --minutes is this invocation's
    wall-clock budget, 10 minutes when no limit is given. ``progress()`` is what the
    decaying learning rates follow: the share of the steps under a step limit, else the
    share of the time, continuing from the progress a resumed run had reached. A resumed
    time-limited run whose decay had ended starts a new one (``restarted``).
    """

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int, clock=time.perf_counter,
                 resumed_progress: float = 0.0, spent_s: float = 0.0):
        self.epoch_steps = (max(1, round(cfg.epochs * steps_per_epoch))
                            if cfg.epochs is not None else None)
        limits = [n for n in (cfg.max_steps, self.epoch_steps) if n is not None]
        self.total_steps = min(limits) if limits else None
        self.minutes = cfg.minutes if (cfg.minutes is not None or limits) else DEFAULT_MINUTES
        self.clock, self.spent_s = clock, spent_s        # spent_s: used before start()
        self.p0 = resumed_progress
        self.restarted = (self.total_steps is None and cfg.lr_schedule in ("linear", "cosine")
                          and resumed_progress >= 0.999)
        if self.restarted:
            self.p0 = 0.0
        self.start()

    def start(self):
        """Start the clock: the time budget counts from here (less what was spent before)."""
        self.t_start = self.clock() - self.spent_s
        self.deadline = (self.t_start + 60 * self.minutes if self.minutes is not None
                         else math.inf)

    def elapsed(self) -> float:
        return self.clock() - self.t_start

    def stop_reason(self, step: int, interrupted: bool = False) -> str | None:
        """Why the run must stop before taking step ``step`` + 1, or None to go on."""
        if self.total_steps is not None and step >= self.total_steps:
            return "epochs" if self.total_steps == self.epoch_steps else "steps"
        if self.clock() >= self.deadline:
            return "time"
        if interrupted:
            return "interrupt"
        return None

    def time_progress(self) -> float | None:
        """The share of the time budget used (None under a step limit)."""
        if self.total_steps is not None:
            return None
        return self.p0 + (1 - self.p0) * min(self.elapsed() / (60 * self.minutes), 1.0)

    def progress(self, step: int) -> float:
        """The share of the budget used, as recorded in checkpoints."""
        p = self.time_progress()
        return p if p is not None else min(step / self.total_steps, 1.0)

    def minutes_left(self) -> float | None:
        if self.minutes is None or self.total_steps is not None:
            return None
        return max(self.deadline - self.clock(), 0) / 60

    def describe(self) -> str:
        return ", ".join(s for s in [
            f"{self.total_steps} steps" if self.total_steps is not None else "",
            f"{self.minutes:g} min" if self.minutes is not None else ""] if s)


class _Meter:
    """The train loss smoothed over recent steps, the gradient norm averaged since the
    last metrics row, and the speed.

    The smoothed loss is an exponential moving average with a time constant of ``tau``
    steps, bias-corrected as Adam's moments are (so it starts from the first losses, not
    from 0): a reading weighs its last tau steps about 63%, and the steps more than
    4 tau before it, such as the untrained start at the first evaluation, under 2%.
    ``smooth`` (the average and its weight) carries it over a resume.
    """

    def __init__(self, clock, chars=0, tau: float = 50.0, smooth=(0.0, 0.0)):
        self.clock = clock
        self.beta = 1 - 1 / max(tau, 1.0)
        self.ema, self.weight = smooth
        self.reset(chars)

    def reset(self, chars):
        self.loss_sum = self.norm_sum = 0.0
        self.n = 0
        self.t_mark, self.chars_mark = self.clock(), chars

    def add(self, loss, norm):
        self.loss_sum += loss
        self.norm_sum += norm
        self.n += 1
        self.ema = self.beta * self.ema + (1 - self.beta) * loss
        self.weight = self.beta * self.weight + (1 - self.beta)

    @property
    def smoothed(self) -> float:
        return self.ema / self.weight if self.weight else math.nan

    def fields(self, chars, now) -> dict:
        return {"train_loss": f"{self.smoothed:.6f}" if self.weight else "",
                "grad_norm": f"{self.norm_sum / self.n:.4f}" if self.n else "",
                "chars_per_s": f"{(chars - self.chars_mark) / max(now - self.t_mark, 1e-9):.1f}"}


def _resumed_config(cfg: TrainConfig, ck, explicit: set) -> TrainConfig:
    """The settings a resumed run goes on with: the checkpoint's, except the MUTABLE
    fields the user set. A FIXED field set to another value is refused."""
    # Older runs lack newer fields: they ran with the trainer's default of today, except
    # where that default changed since (BEFORE_FIELD: what they ran with).
    saved = {**asdict(TrainConfig()), **BEFORE_FIELD, **ck.meta["train"]}
    differ = [f for f in FIXED if f in explicit and getattr(cfg, f) != saved[f]]
    if differ:
        raise CharlstmError(
            "cannot resume with different settings: " + ", ".join(
                f"--{f.replace('_', '-')} {getattr(cfg, f)} (run has {saved[f]})"
                for f in differ) + "; drop these flags or start a new run")
    return TrainConfig(**{f: saved[f] for f in FIXED},
                       **{f: getattr(cfg, f) if f in explicit else saved.get(f)
                          for f in MUTABLE}).validate()


def _previous_horizon(ck) -> int | None:
    """The step total a checkpoint's run spread its decay over (None: a time budget)."""
    if "total_steps" in ck.meta:
        return ck.meta["total_steps"]
    t, spe = ck.meta.get("train", {}), ck.meta.get("steps_per_epoch")
    limits = [t.get("max_steps"), max(1, round(t["epochs"] * spe)) if t.get("epochs") and spe else None]
    limits = [n for n in limits if n is not None]
    return min(limits) if limits else None


def _with_records_defaults(cfg: TrainConfig, explicit: set) -> TrainConfig:
    """A new records run: RECORDS_DEFAULTS for the fields the user did not set."""
    return replace(cfg, **{k: v for k, v in RECORDS_DEFAULTS.items() if k not in explicit})


def _init_from_config(cfg: TrainConfig, parent, explicit: set) -> TrainConfig:
    """A fine-tune's settings: the parent checkpoint's model shape, everything else as
    given (or the defaults of a new run). A shape flag that differs is refused."""
    m = parent.model_config
    differ = [f for f in SHAPE_FLAGS if f in explicit and getattr(cfg, f) != getattr(m, f)]
    if differ:
        raise CharlstmError(
            "--init-from takes the model's shape from its checkpoint: " + ", ".join(
                f"{SHAPE_FLAGS[f]} {getattr(cfg, f)} (checkpoint has {getattr(m, f)})"
                for f in differ) + "; drop these flags (every other setting may be set anew)")
    return replace(cfg, **{f: getattr(m, f) for f in SHAPE_FLAGS}).validate()


def inherit_params(parent, vocab: Vocab, model_cfg: ModelConfig, seed: int, dtype) -> dict:
    """A fine-tune's first weights: the parent checkpoint's, over the run's vocabulary.

    Every symbol the parent knows keeps its embedding row, output column and output bias;
    a symbol it does not know (a character only in the new corpus, or the end-of-record
    symbol new to a records run) gets the values a fresh model of this vocabulary and
    seed would start with (``init_params``). The recurrent layers are the parent's.
    """
    fresh = init_params(model_cfg, np.random.default_rng(seed), dtype)
    old = parent.params
    table = parent.vocab.lookup(vocab)                 # run id -> parent id, or -1
    new_ids, old_ids = np.flatnonzero(table >= 0), table[table >= 0]
    p = {k: (v if k in ("embed", "out.W", "out.b") else old[k].astype(dtype))
         for k, v in fresh.items()}
    p["embed"][new_ids] = old["embed"][old_ids]
    p["out.W"][:, new_ids] = old["out.W"][:, old_ids]
    p["out.b"][new_ids] = old["out.b"][old_ids]
    return p


def _check_same_corpus(ck, data: TrainData, corpus, ck_path):
    """--resume continues on the run's own text: refuse a corpus whose bytes differ
    (checkpoints from before the content hash: whose length in characters differs)."""
    had = ck.meta
    if had.get("corpus_sha256"):
        same = (had["corpus_sha256"], had.get("corpus_bytes")) == (data.sha256, data.n_bytes)
        was = f"{had.get('corpus_bytes', 0):,} bytes, sha256 {had['corpus_sha256'][:12]}"
        now = f"{data.n_bytes:,} bytes, sha256 {data.sha256[:12]}"
    else:
        same = had.get("corpus_chars") in (None, data.chars)
        was, now = f"{had.get('corpus_chars', 0):,} characters", f"{data.chars:,}"
    if not same:
        raise CharlstmError(
            f"corpus {corpus} is not the one this run was trained on (it has {now}; the "
            f"run's had {was}); --resume continues a run exactly, on its own text. To train "
            f"this model on new text, start a new run from it: charlstm train {corpus} "
            f"--init-from {ck_path}")


def _nats(loss: float, unit: str = "char") -> str:
    return f"{loss:.4f} nats/{unit} ({loss / math.log(2):.3f} bits/{unit})"


# --------------------------------------------------------------------------- the run

def train(corpus, cfg: TrainConfig | None = None, run_dir=None, resume=None,
          overwrite: bool = False, explicit: set | None = None, log=None,
          command: str | None = None, clock=time.perf_counter,
          init_from=None) -> TrainResult:
    """Train on ``corpus`` (file, folder or built-in name) and return a TrainResult.

    resume: a run folder or checkpoint to continue. explicit: the names of the config
    fields the user set (a resumed run refuses a fixed field that differs from the
    checkpoint's; unset fields are taken from the checkpoint).
    init_from: a checkpoint whose weights a new run starts from (a fine-tune): its model
    shape, the union of its vocabulary and the corpus's (``inherit_params``); a fresh
    optimizer, schedule and data position; any other setting as given.
    log: a function for progress lines (default: to stderr, above the progress bar).
    clock: seconds as a float (the time budget, the rate's progress and the logs use it).
    """
    cfg = cfg or TrainConfig()
    explicit = set(explicit if explicit is not None else
                   (f.name for f in fields(TrainConfig)
                    if getattr(cfg, f.name) != getattr(TrainConfig(), f.name)))
    cfg.validate()
    ck = parent = parent_info = None
    if resume is not None:
        if init_from is not None:
            raise CharlstmError("--init-from starts a new run from a checkpoint's weights; "
                                "it cannot be combined with --resume, which continues a run")
        run_dir, ck_path = _resolve_resume(resume)
        ck = ckpt.load(ck_path)
        cfg = _resumed_config(cfg, ck, explicit)
        corpus = corpus if corpus is not None else ck.meta["corpus"]
    elif corpus is None:
        raise CharlstmError("no corpus given: pass a text file, a folder or a built-in name")
    if ck is None and cfg.records:
        cfg = _with_records_defaults(cfg, explicit)
    if init_from is not None:
        parent = ckpt.load(init_from)
        cfg = _init_from_config(cfg, parent, explicit)
        parent_info = {"path": str(init_from), "sha256": ckpt.file_sha256(init_from),
                       "corpus": parent.meta.get("corpus"), "step": parent.meta.get("step")}

    # A fine-tune's vocabulary is a union; resumed, it is the checkpoint's (the same
    # corpus adds nothing to it).
    base_vocab = (parent.vocab if parent is not None else
                  ck.vocab if ck is not None and ck.meta.get("parent") else None)
    data = TrainData.load(corpus, cfg, ck.meta if ck is not None else None, base_vocab)
    if ck is not None:
        _check_same_corpus(ck, data, corpus, ck_path)
        if data.vocab != ck.vocab:
            raise CharlstmError(f"corpus {corpus} is not the one this run was trained on "
                                "(its vocabulary differs); pass the original corpus")
    choice, budget_s = None, 60 * (cfg.minutes or DEFAULT_MINUTES)
    if ck is None and parent is None and sizing.applies(cfg, explicit, budget_s):
        cfg, choice = sizing.choose(cfg, data, budget_s, clock)
    if ck is None:
        folder = RunFolder.create(run_dir if run_dir is not None
                                  else _default_run_dir(data.name), overwrite)
    else:
        folder = RunFolder.reopen(run_dir)
    start = None
    if parent is not None:
        start = inherit_params(parent, data.vocab, cfg.model_config(len(data.vocab)),
                               cfg.seed, np.dtype(cfg.dtype))
    meta = _run_meta(cfg, data, corpus, ck, command, parent_info,
                     choice.to_meta() if choice is not None else None)
    trainer = Trainer(cfg, data, folder, meta, ck, log, clock, start_params=start,
                      spent_s=choice.probe_s if choice is not None else 0.0)
    return trainer.run()


def _run_meta(cfg: TrainConfig, data: TrainData, corpus, ck, command, parent=None,
              size_choice=None) -> dict:
    """What every checkpoint of the run records besides where the run is.

    corpus_bytes, corpus_sha256: the corpus's size and the sha256 of its bytes (a resume
    refuses other text); parent: for a fine-tune (--init-from), the checkpoint it
    started from {"path", "sha256" of the file, "corpus", "step"}; size_choice: how a
    new run chose its size for its budget (``sizing.SizeChoice.to_meta``).
    """
    meta = {
        "model": cfg.model_config(len(data.vocab)).to_dict(), **data.vocab.to_meta(),
        "dtype": cfg.dtype, "train": asdict(cfg), "corpus": str(corpus),
        "corpus_source": data.source, "corpus_chars": data.chars,
        "corpus_bytes": data.n_bytes, "corpus_sha256": data.sha256,
        "steps_per_epoch": data.steps_per_epoch, "eval_slice_chars": data.slice_chars,
        "command": (ck.meta.get("command") if ck is not None else None)
                   or command or " ".join(sys.argv),
    }
    parent = ck.meta.get("parent") if ck is not None else parent
    if parent:
        meta["parent"] = parent
    size_choice = ck.meta.get("size_choice") if ck is not None else size_choice
    if size_choice:
        meta["size_choice"] = size_choice
    if command and ck is not None:
        meta["resumed_with"] = command
    return meta


class Trainer:
    """One invocation of a run: the model, the optimizer, where the run is, and the loop.

    Built from the settings, the data, the run folder, the run's description (``meta``)
    and, to resume, a checkpoint; ``run()`` trains until the budget says stop.
    """

    def __init__(self, cfg: TrainConfig, data: TrainData, folder: RunFolder, meta: dict,
                 ck=None, log=None, clock=time.perf_counter, start_params=None,
                 spent_s: float = 0.0):
        # start_params: a new run's first weights (a fine-tune's); None: a fresh model.
        # spent_s: seconds of the time budget already used (choosing the size).
        self.cfg, self.data, self.folder, self.meta, self.clock = cfg, data, folder, meta, clock
        self.log = log or (lambda s: tqdm.write(s, file=_STDERR))
        dtype = np.dtype(cfg.dtype)
        params = ({k: v.astype(dtype) for k, v in ck.params.items()} if ck is not None
                  else start_params)
        self.model = CharLSTM(cfg.model_config(len(data.vocab)), seed=cfg.seed, dtype=dtype,
                              params=params, threads=cfg.threads)
        self.opt = make_optimizer(cfg.optimizer, self.model.params, cfg.momentum)
        self.resumed = ck is not None
        if ck is None:
            self.step = self.epoch = self.batch = 0
            self.best, self.elapsed0 = math.inf, 0.0
            self.state = self.model.init_state(data.train.N)
        else:
            self.model.dropout_rng.bit_generator.state = ck.meta["rng"]
            self.opt.load_state_dict(ck.optim)
            self.step, self.epoch, self.batch = ck.meta["step"], ck.meta["epoch"], ck.meta["batch"]
            best = ck.meta["best_val_loss"]
            self.best = min(best if best is not None else math.inf, folder.best_saved_loss())
            self.elapsed0 = ck.meta.get("elapsed_s", 0.0)
            self.state = ck.state
        self.smooth0 = tuple(ck.meta.get("train_loss_ema", (0.0, 0.0))) if ck is not None else (0.0, 0.0)
        self.previous_horizon = _previous_horizon(ck) if ck is not None else None
        self.budget = Budget(cfg, data.steps_per_epoch, clock,
                             ck.meta.get("lr_progress", 0.0) if ck is not None else 0.0,
                             spent_s)
        folder.write_config({k: v for k, v in meta.items() if not k.startswith("vocab")}
                            | {"vocab_size": len(data.vocab)})
        rows = folder.start_metrics(self.step if ck is not None else None)
        self.row_step = int(rows[-1]["step"]) if rows else -1   # the step of the last row
        self.last_val = float(rows[-1]["val_loss"]) if rows else math.nan
        self.full_val = math.nan
        self.best_full, self.best_step = math.nan, None    # best.npz on the whole split, at the end
        self.eval_s = 0.0                              # seconds spent evaluating
        self.lr = self.learning_rate()
        self.stop = _StopFlag(cfg.stop_eval_seconds, clock)
        split = self.model._batch_split(data.train.N)  # None: the batch runs in one thread
        self.threads_used = split.parts if split is not None else 1

    # ---------------------------------------------------------------- the loop

    def run(self) -> TrainResult:
        cfg, model, opt, budget = self.cfg, self.model, self.opt, self.budget
        # A diverging step warns of overflows before its NaN is caught: the NaN check says it.
        with self.stop as interrupted, warnings.catch_warnings():
            warnings.filterwarnings("ignore", r"(overflow|invalid value|divide by zero)",
                                    RuntimeWarning)
            self.log_header()
            bar = tqdm(total=budget.total_steps, initial=self.step, disable=cfg.quiet,
                       unit="step", dynamic_ncols=True, file=_STDERR, leave=True)
            budget.start()
            self.meter = _Meter(self.clock, self.chars(), tau=cfg.eval_every / 4,
                                smooth=self.smooth0)
            self.chars0 = self.chars()
            self.step0, diverged = self.step, None
            try:
                while (stopped_by := budget.stop_reason(self.step, interrupted.set)) is None:
                    x, y = self.next_batch()
                    self.lr = self.learning_rate()
                    loss, grads, new_state = model.loss_and_grads(x, y, self.state)
                    norm = clip_grads(grads, cfg.grad_clip, cfg.clip_mode)
                    if not (math.isfinite(loss) and math.isfinite(norm)):
                        stopped_by, diverged = "nan", self.divergence(loss, norm)
                        break
                    opt.step(model.params, grads, self.lr)
                    decay_weights(model.params, self.lr, cfg.weight_decay)
                    self.count(loss, norm, new_state)
                    bar.update(1)
                    if self.step % cfg.eval_every == 0:
                        self.evaluate(stop=self.evaluation_cut)
                    if self.step % cfg.checkpoint_every == 0:
                        self.save("latest.npz")
                    self.show_progress(bar, loss)
                bar.close()
                self.finish(stopped_by)
            except RunFolderError as e:
                bar.close()
                raise RunFolderError(f"at step {self.step}, {e}") from None
        if diverged:
            raise Diverged(diverged)
        return TrainResult(self.folder.path, self.step, self.epoch, self.best, self.last_val,
                           stopped_by, self.full_val, interrupted.name, self.best_full,
                           self.best_step)

    # ---------------------------------------------------------------- its steps

    def next_batch(self):
        """The next training batch; the carried state is reset where the batches say: at
        the start of an epoch (for records, at the start of each group of records)."""
        train = self.data.train
        x, y = train.get(self.batch, self.epoch)
        if train.resets(self.batch, self.epoch):
            self.state = self.model.init_state(x.shape[0])
        return x, y

    def learning_rate(self) -> float:
        cfg = self.cfg
        return learning_rate(cfg.lr, self.step, schedule=cfg.lr_schedule, epoch=self.epoch,
                             decay=cfg.lr_decay, decay_every=cfg.lr_decay_every,
                             warmup=cfg.warmup_steps, total_steps=self.budget.total_steps,
                             min_lr=cfg.min_lr, progress=self.budget.time_progress())

    def count(self, loss, norm, new_state):
        """Move on one step: the state carried to the next batch (values only), the step,
        batch and epoch counters, and the running averages."""
        self.state = new_state
        self.step += 1
        self.batch += 1
        if self.batch == self.data.steps_per_epoch:
            self.batch, self.epoch = 0, self.epoch + 1
        self.meter.add(loss, norm)

    def chars(self) -> int:
        """Predictions trained on so far (for records, padding not counted)."""
        return self.data.train.chars_seen(self.step)

    def divergence(self, loss, norm) -> str:
        """The message of a NaN stop: the step that failed (step + 1, not applied), what
        was kept, and what to change."""
        latest = self.folder.path / "latest.npz"
        if all(np.isfinite(p).all() for p in self.model.params.values()):
            kept = f"{latest} keeps the weights after step {self.step}"   # finish() saves them
        elif latest.exists():
            kept = f"the weights overflowed; {latest} keeps those of an earlier step"
        else:
            kept = "the weights overflowed before any checkpoint was saved"
        what = (f"the loss became {'NaN' if math.isnan(loss) else loss}" if not math.isfinite(loss)
                else f"the gradient norm became {norm}")
        fix = (f"lower --lr (now {self.cfg.lr:g}) or --grad-clip (now {self.cfg.grad_clip:g})"
               if self.cfg.grad_clip > 0 else
               f"lower --lr (now {self.cfg.lr:g}), or turn gradient clipping on (it is off: "
               "--grad-clip 0); --grad-clip 5 is the default")
        return (f"{what} in step {self.step + 1} (gradient norm {norm:.3g}), so that update "
                f"was not applied; {kept}; {fix}")

    def save(self, name):
        meta = dict(self.meta, step=self.step, epoch=self.epoch, batch=self.batch,
                    best_val_loss=None if math.isinf(self.best) else self.best,
                    lr_progress=self.budget.progress(self.step),
                    rng=self.model.dropout_rng.bit_generator.state,
                    elapsed_s=self.elapsed0 + self.budget.elapsed(),
                    train_loss_ema=[self.meter.ema, self.meter.weight],
                    full_val_loss=self.full_val if math.isfinite(self.full_val) else None,
                    threads=self.threads_used, total_steps=self.budget.total_steps)
        with self.stop.saving_checkpoint():
            self.folder.save_checkpoint(name, meta, self.model, self.opt, self.state)

    def evaluate(self, final=False, stop=None):
        """Score the validation slice (and at the end the whole split), write a metrics row,
        keep best.npz, sample some text and redraw the plot.

        stop: a function that says when to give up (``evaluation_cut``: after a stop
        signal); what is left is skipped, and said so.
        """
        data, folder = self.data, self.folder
        t_eval = self.clock()
        cut = None
        try:
            if self.step == self.row_step:             # already scored: the end of a run
                val = self.last_val                    # that stopped on an evaluation step
            else:
                val = evaluate(self.model, data.val_slice, stop)
        except EvaluationStopped as e:                 # nothing scored at this step: no row
            self.eval_s += self.clock() - t_eval
            self.log(f"{'final evaluation' if final else 'evaluation'} skipped ({e}): no "
                     f"validation loss at step {self.step}")
            return
        if final:
            try:
                self.full_val = (val if data.val_slice is data.val_full
                                 else evaluate(self.model, data.val_full, stop))
            except EvaluationStopped as e:
                cut = str(e)
                self.log(f"final evaluation cut short ({cut}): the whole validation split "
                         "was not scored")
        now = self.clock()
        self.eval_s += now - t_eval
        if self.step == self.row_step:                 # add the whole split to that row
            if not cut:
                folder.amend_last_metrics(val_full=f"{self.full_val:.6f}",
                                          eval_s=f"{self.eval_s:.4f}")
                self.log_whole_split()
                folder.replot()
            return
        chars = self.chars()
        row = {"step": self.step, "epoch": f"{self.step / data.steps_per_epoch:.4f}",
               "chars": chars, "val_loss": f"{val:.6f}", "val_bpc": f"{val / math.log(2):.6f}",
               "lr": f"{self.lr:.6g}", **self.meter.fields(chars, now),
               "elapsed_s": f"{self.elapsed0 + now - self.budget.t_start:.2f}",
               "val_chars": data.val_slice.chars_per_epoch,
               "val_full": f"{self.full_val:.6f}" if final and not cut else "",
               "eval_s": f"{self.eval_s:.2f}"}
        folder.append_metrics(row)
        self.row_step, self.last_val = self.step, val
        self.log(f"step {self.step} (epoch {self.step / data.steps_per_epoch:.2f}): train "
                 f"{row['train_loss'] or '-'}, val {_nats(val, self.unit)}, {row['chars_per_s']} chars/s")
        if final and not cut:
            self.log_whole_split()
        if val < self.best:
            self.best = val
            self.save("best.npz")
        if stop is not None and stop():               # out of time: no sample, no new plot
            return
        if self.cfg.sample_chars:
            folder.append_sample(self.step, val, self.sample_text(), self.unit)
        folder.replot()
        self.meter.reset(chars)

    def score_best(self, stop=None):
        """At the end of a run, best.npz's weights on the whole validation split as well
        (the slice chose them; the final evaluation scored the last weights), kept in
        best.npz as its full_val_loss. Scored once: a resumed run that found no better
        model reads the figure back."""
        path = self.folder.path / "best.npz"
        if not path.exists() or not math.isfinite(self.full_val):
            return
        ck = ckpt.load(path)
        self.best_step = ck.meta.get("step")
        if ck.meta.get("full_val_loss") is not None:
            self.best_full = ck.meta["full_val_loss"]
            return
        if self.best_step == self.step:                # best.npz holds the last weights
            self.best_full = self.full_val
        else:
            model = CharLSTM(self.model.cfg, seed=None, dtype=self.model.dtype, threads=self.cfg.threads,
                             params={k: v.astype(self.model.dtype) for k, v in ck.params.items()})
            t0 = self.clock()
            try:
                self.best_full = evaluate(model, self.data.val_full, stop)
            except EvaluationStopped as e:
                self.log(f"best.npz not scored on the whole validation split ({e})")
                return
            finally:
                self.eval_s += self.clock() - t0
            self.log(f"best.npz (step {self.best_step}) on the whole validation split: "
                     f"{self.best_full:.4f} nats/{self.unit}; the last weights (step {self.step}): "
                     f"{self.full_val:.4f}")
        self.folder.update_meta("best.npz", ck, full_val_loss=self.best_full)

    @property
    def unit(self) -> str:
        """What the losses are per: a character, or a symbol for records (the end counts)."""
        return "symbol" if self.data.records else "char"

    def evaluation_cut(self) -> str | None:
        """After a stop signal, why an evaluation must stop now (None: go on)."""
        return self.stop.evaluation_cut() if self.stop.set else None

    def sample_text(self) -> str:
        """About --sample-chars characters of text for samples.txt: a stream, or records
        (one per line; for paragraphs, one per block) until that many characters."""
        cfg, data = self.cfg, self.data
        rng = np.random.default_rng([cfg.seed, self.step])
        if data.records is None:
            return sample(self.model, data.vocab, cfg.sample_chars, rng=rng, temperature=0.8)
        out, n = [], 0
        while n < cfg.sample_chars and len(out) < 100:
            r = sample_record(self.model, data.vocab, cfg.sample_chars, rng=rng, temperature=0.8)
            out.append(r)
            n += len(r) + 1
        return ("\n\n" if data.records == "paragraphs" else "\n").join(out)

    def finish(self, stopped_by):
        """Whatever stopped the run: a last evaluation (the whole split) and latest.npz.

        After a signal (even one that came as a limit ended the run) the evaluation is
        limited: --stop-eval-seconds from the signal, or a second signal.
        """
        stop = self.stop
        stop.finishing = True                          # a third signal now waits for the save
        if stop.set and stopped_by != "nan":
            self.log(f"{_describe_signal(stop.name)}: stopping after step {self.step}; a final "
                     f"evaluation (at most {stop.eval_seconds:g} s, --stop-eval-seconds; "
                     f"{stop.name} again skips it), then latest.npz")
        if stopped_by != "nan":
            self.evaluate(final=True, stop=self.evaluation_cut)
            self.score_best(stop=self.evaluation_cut)
        if stopped_by != "nan" or all(np.isfinite(p).all() for p in self.model.params.values()):
            self.save("latest.npz")
        if stopped_by == "nan":
            return                                     # the Diverged message says the rest
        what = {"interrupt": stop.name}.get(stopped_by, f"the {stopped_by} limit")
        parts = [f"stopped by {what} at step {self.step} (epoch "
                 f"{self.step / self.data.steps_per_epoch:.2f})"]
        if math.isnan(self.last_val):
            parts.append("no validation loss yet")
        else:
            at = "" if self.row_step == self.step else f" (at step {self.row_step})"
            parts.append(f"val loss{at} {self.last_val:.4f} nats/{self.unit} = "
                         f"{self.last_val / math.log(2):.4f} bits/{self.unit}")
        if math.isfinite(self.best):
            parts.append(f"best {self.best:.4f}")
        if math.isfinite(self.full_val):
            parts.append(f"whole validation split {self.full_val:.4f}")
        if math.isfinite(self.best_full) and self.best_step != self.step:
            parts.append(f"best.npz (step {self.best_step}) on the whole split "
                         f"{self.best_full:.4f}")
        parts.append(f"run folder {self.folder.path}")
        self.log("; ".join(parts))

    # ---------------------------------------------------------------- what the user sees

    def log_header(self):
        cfg, data, log, budget = self.cfg, self.data, self.log, self.budget
        n_train, n_val = data.train_chars, data.val_chars
        for w in data.warnings:
            log(w)
        if data.records:
            (r_train, r_val), what = data.n_records, data.records[:-1]
            log(f"corpus: {data.source}: {data.chars:,} chars, {r_train + r_val:,} records "
                f"(one per {what}), vocab {len(data.vocab) - 1} characters + end-of-record, "
                f"train {r_train:,} records ({n_train:,} predictions) / val {r_val:,} "
                f"({n_val:,}), held out at random")
        else:
            log(f"corpus: {data.source}: {data.chars:,} chars, vocab {len(data.vocab)}, "
                f"train {n_train:,} / val {n_val:,}"
                + (" (ids from the cache)" if data.from_cache else ""))
        if n_val > 20 * data.slice_chars and n_val > 1_000_000:
            log(f"note: the run ends by scoring the whole validation split, {n_val:,} "
                f"chars; that takes about as long as training on a third as many. Lower "
                f"--val-frac (now {cfg.val_frac:g}) to shorten it")
        if data.vocab.unknown_char is not None:
            why = [f"seen fewer than {cfg.min_char_count} times" if cfg.min_char_count > 1 else "",
                   f"beyond the {cfg.max_vocab - 1} most frequent (--max-vocab {cfg.max_vocab})"
                   if cfg.max_vocab is not None else ""]
            log(f"rare characters ({' or '.join(w for w in why if w)}) are folded into one "
                "unknown symbol, U+FFFD")
        if self.meta.get("size_choice") and not self.resumed:
            log(self.meta["size_choice"]["why"])
        log(f"model: {cfg.num_layers}-layer {cfg.cell}, hidden {cfg.hidden_size}, embed "
            f"{cfg.embed_size}, {self.model.num_params:,} parameters, {cfg.dtype}, "
            f"{self.threads_used} thread{'s' if self.threads_used > 1 else ''}"
            + ("" if cfg.threads else " (auto)"))
        shape = (f"up to N={data.train.N} records of similar length, each from a zero state, "
                 f"cut at T={data.train.T} (the loss is per predicted character or end-of-record "
                 f"symbol)" if data.records else f"N={data.train.N} x T={data.train.T}")
        log(f"batches: {shape}, {data.steps_per_epoch} steps per "
            f"epoch; {cfg.optimizer} lr {cfg.lr:g}; stop after {budget.describe()}; "
            f"run folder {self.folder.path}")
        if self.meta.get("parent") and not self.resumed:
            log(f"fine-tuning from {self.meta['parent']['path']}: its weights, a fresh optimizer "
                f"and schedule")
        if self.resumed:
            log(f"resuming at step {self.step} (epoch {self.epoch}, batch {self.batch})")
            self.log_new_horizon()
        elif not self.meta.get("parent"):                  # a fine-tune is no fresh model
            log(f"a fresh model's loss is ln V = {math.log(len(data.vocab)):.3f} nats/{self.unit}")
        if budget.restarted:
            log(f"the learning rate had decayed to --min-lr {cfg.min_lr:g}: this run restarts "
                f"the {cfg.lr_schedule} decay from --lr {cfg.lr:g} over {budget.minutes:g} min")

    def log_new_horizon(self):
        """A decaying rate under a step limit follows step / limit: a resume under another
        limit moves the curve, and the rate jumps; say so."""
        cfg, old, new = self.cfg, self.previous_horizon, self.budget.total_steps
        if cfg.lr_schedule not in ("linear", "cosine") or old is None or new is None or old == new:
            return
        before = learning_rate(cfg.lr, self.step, schedule=cfg.lr_schedule, warmup=cfg.warmup_steps,
                               total_steps=old, min_lr=cfg.min_lr)
        self.log(f"note: the {cfg.lr_schedule} decay ran over {old} steps and now runs over "
                 f"{new} (the new step limit): the learning rate goes from {before:.3g} to "
                 f"{self.lr:.3g} at step {self.step}")

    def log_whole_split(self):
        if self.data.val_slice is not self.data.val_full:
            self.log(f"whole validation split ({self.data.val_full.chars_per_epoch:,} chars): "
                     f"{_nats(self.full_val, self.unit)}")

    def show_progress(self, bar, loss):
        if self.cfg.quiet or not (self.step % 10 == 0 or self.step == self.step0 + 1):
            return
        el = self.budget.elapsed()
        post = {"loss": f"{loss:.3f}",
                "val": "-" if math.isnan(self.last_val) else f"{self.last_val:.3f}",
                "chars/s": f"{(self.chars() - self.chars0) / max(el, 1e-9):,.0f}"}
        left = self.budget.minutes_left()
        if left is not None:
            post["left"] = f"{left:.1f}min"
        bar.set_postfix(post, refresh=False)
