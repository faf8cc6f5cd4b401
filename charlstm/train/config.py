"""The settings of a run and what it returns: TrainConfig (and ``validate``, which refuses
impossible values), the fields a resume keeps (FIXED) or may change (MUTABLE), the
defaults of a records run, the columns of metrics.csv (METRICS), TrainResult, and the
errors a run can end with (Diverged, RunFolderError; EvaluationStopped, inside a run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

from ..data import RECORD_MODES
from ..errors import CharlstmError, ConfigError
from ..model import INITS, ModelConfig
from ..optim import OPTIMIZERS, SCHEDULES


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
    init: str = "fan_in"                               # a fresh model's weights (model.INITS)
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
    ema_decay: float = 0.999                           # the weight average ema.npz keeps; 0: none
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
            (self.init in INITS, f"--init must be one of {', '.join(INITS)}, got {self.init!r}"),
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
            (0 <= self.ema_decay < 1, f"--ema-decay must be in [0, 1) (0: no averaged weights), got {self.ema_decay}"),
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
                "auto_size": False,
                "ema_decay": 0.0}                      # no averaged weights
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
    ema_full_val_loss: float = math.nan                # ema.npz's averaged weights on the whole split


class Diverged(CharlstmError):
    """The loss or the gradient became NaN or infinite."""


class RunFolderError(CharlstmError):
    """Writing the run folder failed (no space, read-only, removed, no permission)."""


class EvaluationStopped(Exception):
    """An evaluation given up between two batches (``evaluate(stop=...)``)."""
