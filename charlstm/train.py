"""The training loop: truncated BPTT over char-rnn batches, evaluation, checkpoints, resume.

    from charlstm.train import TrainConfig, train
    result = train("python-docs", TrainConfig(minutes=1), run_dir="runs/demo")

A run folder holds config.json, metrics.csv, latest.npz, best.npz, loss.png and
samples.txt. ``train(..., resume="runs/demo")`` continues it exactly where it stopped.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

import numpy as np

from . import checkpoint as ckpt
from .data import Batches, encode_corpus, fit_streams, split
from .errors import CharlstmError, ConfigError
from .model import CharLSTM, ModelConfig
from .optim import OPTIMIZERS, SCHEDULES, clip_grads, learning_rate, make_optimizer
from .plot import plot_runs, read_metrics
from .sample import sample

DEFAULT_MINUTES = 10.0
METRICS = ["step", "epoch", "chars", "train_loss", "val_loss", "val_bpc", "lr", "grad_norm",
           "chars_per_s", "elapsed_s", "val_chars", "val_full", "eval_s"]
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
    dropout: float = 0.2
    dtype: str = "float32"
    # data
    seq_len: int = 64
    batch_size: int = 32
    val_frac: float = 0.1
    encoding: str = "utf-8"
    min_char_count: int = 1                            # rarer characters fold into one unknown symbol
    max_vocab: int | None = None                       # keep at most this many symbols (unknown included)
    # optimisation
    optimizer: str = "adam"
    lr: float = 5e-3                                   # the peak: the rate decays from it
    momentum: float = 0.9
    lr_schedule: str = "linear"                        # to min_lr at the end of the budget
    lr_decay: float = 0.5
    lr_decay_every: int = 1
    warmup_steps: int = 20
    min_lr: float = 0.0
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

    def model_config(self, vocab_size: int) -> ModelConfig:
        return ModelConfig(vocab_size=vocab_size, hidden_size=self.hidden_size,
                           num_layers=self.num_layers, cell=self.cell,
                           embed_size=self.embed_size, dropout=self.dropout)

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
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"),
            (self.lr > 0 and math.isfinite(self.lr), f"--lr must be greater than 0, got {self.lr}"),
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
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self


# Fields that define the model, the data and the optimisation: a resumed run keeps them.
MUTABLE = ["epochs", "max_steps", "minutes", "eval_every", "checkpoint_every",
           "sample_chars", "quiet"]
FIXED = [f.name for f in fields(TrainConfig) if f.name not in MUTABLE]


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    best_val_loss: float
    last_val_loss: float
    stopped_by: str                                    # steps, epochs, time, interrupt, nan
    full_val_loss: float = math.nan                    # on the whole validation split, at the end


class Diverged(CharlstmError):
    """The loss or the gradient became NaN or infinite."""


# --------------------------------------------------------------------------- helpers

def evaluate(model: CharLSTM, batches: Batches) -> float:
    """Mean loss (nats/char) over every character of ``batches``, state carried."""
    state = model.init_state(batches.N)
    total, count = 0.0, 0
    for k in range(len(batches)):
        x, y = batches.get(k)
        loss, state = model.loss(x, y, state)
        total += loss * x.size
        count += x.size
    return total / max(count, 1)


def eval_slice_chars(cfg: TrainConfig, N: int, n_val: int, resumed_meta=None) -> int:
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
        n = max(cfg.eval_every * N * cfg.seq_len // 8, 4 * cfg.seq_len)
    return min(n, n_val - 1)


def _write_metrics(metrics_file: Path, rows):
    """Write metrics.csv whole, through a temporary file renamed over it."""
    tmp = metrics_file.with_name(".metrics.csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, METRICS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, metrics_file)


def _amend_last_row(metrics_file: Path, **values):
    """Set columns of the last row of metrics.csv."""
    with open(metrics_file, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows[-1].update(values)
    _write_metrics(metrics_file, rows)


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


class _StopFlag:
    """Ctrl-C sets a flag the loop checks between steps, so no update is cut in half.

    A second Ctrl-C raises KeyboardInterrupt at once (saves are atomic either way).
    """

    def __init__(self):
        self.set = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


# --------------------------------------------------------------------------- the run

def train(corpus, cfg: TrainConfig | None = None, run_dir=None, resume=None,
          overwrite: bool = False, explicit: set | None = None, log=None,
          command: str | None = None, clock=time.perf_counter) -> TrainResult:
    """Train on ``corpus`` (file, folder or built-in name) and return a TrainResult.

    resume: a run folder or checkpoint to continue. explicit: the names of the config
    fields the user set (a resumed run refuses a fixed field that differs from the
    checkpoint's; unset fields are taken from the checkpoint).
    log: a function for progress lines (default: print to stderr).
    clock: seconds as a float (the time budget, the rate's progress and the logs use it).
    """
    cfg = cfg or TrainConfig()
    explicit = set(explicit if explicit is not None else
                   (f.name for f in fields(TrainConfig)
                    if getattr(cfg, f.name) != getattr(TrainConfig(), f.name)))
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    cfg.validate()

    # ---------------------------------------------------------------- resume or new run
    ck = None
    if resume is not None:
        run_dir, ck_path = _resolve_resume(resume)
        ck = ckpt.load(ck_path)
        saved = {**asdict(TrainConfig()), **ck.meta["train"]}   # older runs lack newer fields
        differ = [f for f in FIXED if f in explicit and getattr(cfg, f) != saved[f]]
        if differ:
            raise CharlstmError(
                "cannot resume with different settings: " + ", ".join(
                    f"--{f.replace('_', '-')} {getattr(cfg, f)} (run has {saved[f]})"
                    for f in differ) + "; drop these flags or start a new run")
        cfg = TrainConfig(**{f: saved[f] for f in FIXED},
                          **{f: getattr(cfg, f) if f in explicit else saved.get(f)
                             for f in MUTABLE})
        if corpus is None:
            corpus = ck.meta["corpus"]
        cfg.validate()
    elif corpus is None:
        raise CharlstmError("no corpus given: pass a text file, a folder or a built-in name")

    corpus_obj = encode_corpus(corpus, cfg.encoding, cfg.min_char_count, cfg.max_vocab,
                               progress=not cfg.quiet)
    vocab, ids = corpus_obj.vocab, corpus_obj.ids      # ids memory-mapped for a big corpus
    if ck is not None and vocab != ck.vocab:
        raise CharlstmError(f"corpus {corpus} is not the one this run was trained on "
                            "(its vocabulary differs); pass the original corpus")
    train_ids, val_ids = split(ids, cfg.val_frac)
    total = len(ids)
    N, T = cfg.batch_size, cfg.seq_len
    N_train, warn_t = fit_streams(len(train_ids), N, T, "training", total, cfg.val_frac)
    N_val, warn_v = fit_streams(len(val_ids), N, T, "validation", total, cfg.val_frac)
    train_batches = Batches(train_ids, N_train, T)
    val_full = Batches(val_ids, N_val, T, partial=True)
    spe = len(train_batches)                           # steps per epoch
    # Periodic evaluations score the same slice, from the start of the split, every time.
    n_slice = eval_slice_chars(cfg, N_train, len(val_ids), ck.meta if ck is not None else None)
    val_batches = val_full
    if n_slice < len(val_ids) - 1:
        N_slice, _ = fit_streams(n_slice + 1, N_val, T, "validation", total, cfg.val_frac)
        val_batches = Batches(val_ids[:n_slice + 1], N_slice, T, partial=True)

    if ck is None:
        run_dir = Path(run_dir) if run_dir is not None else _default_run_dir(corpus_obj.name)
        if run_dir.exists() and any(run_dir.iterdir()):
            if not overwrite:
                raise CharlstmError(f"run folder {run_dir} already exists; pass --resume "
                                    f"{run_dir} to continue it, --overwrite to replace it, "
                                    "or choose another --run-dir")
            for name in ("config.json", "metrics.csv", "latest.npz", "best.npz", "loss.png",
                         "samples.txt"):
                (run_dir / name).unlink(missing_ok=True)
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CharlstmError(f"cannot create run folder {run_dir}: {e.strerror}")

    # ---------------------------------------------------------------- model and optimizer
    dtype = np.dtype(cfg.dtype)
    mcfg = cfg.model_config(len(vocab))
    if ck is None:
        model = CharLSTM(mcfg, seed=cfg.seed, dtype=dtype)
        opt = make_optimizer(cfg.optimizer, model.params, cfg.momentum)
        step = epoch = batch = 0
        best = math.inf
        elapsed0 = 0.0
        state = model.init_state(N_train)
    else:
        model = CharLSTM(mcfg, seed=cfg.seed, dtype=dtype,
                         params={k: v.astype(dtype) for k, v in ck.params.items()})
        model.dropout_rng.bit_generator.state = ck.meta["rng"]
        opt = make_optimizer(cfg.optimizer, model.params, cfg.momentum)
        opt.load_state_dict(ck.optim)
        step, epoch, batch = ck.meta["step"], ck.meta["epoch"], ck.meta["batch"]
        best = ck.meta["best_val_loss"] if ck.meta["best_val_loss"] is not None else math.inf
        if (run_dir / "best.npz").exists():            # it may be newer than latest.npz
            saved_best = ckpt.load(run_dir / "best.npz").meta.get("best_val_loss")
            best = min(best, saved_best if saved_best is not None else math.inf)
        elapsed0 = ck.meta.get("elapsed_s", 0.0)
        state = ck.state

    # Stopping: the step and epoch limits are totals for the run.
    epoch_steps = max(1, round(cfg.epochs * spe)) if cfg.epochs is not None else None
    limits = [n for n in (cfg.max_steps, epoch_steps) if n is not None]
    total_steps = min(limits) if limits else None
    minutes = cfg.minutes if (cfg.minutes is not None or limits) else DEFAULT_MINUTES

    meta_static = {
        "model": mcfg.to_dict(), **vocab.to_meta(), "dtype": cfg.dtype,
        "train": asdict(cfg), "corpus": str(corpus), "corpus_source": corpus_obj.source,
        "corpus_chars": total, "steps_per_epoch": spe, "eval_slice_chars": n_slice,
        "command": (ck.meta.get("command") if ck is not None else None)
                   or command or " ".join(sys.argv),
    }
    if command and ck is not None:
        meta_static["resumed_with"] = command

    (run_dir / "config.json").write_text(json.dumps(
        {k: v for k, v in meta_static.items() if not k.startswith("vocab")} | {"vocab_size": len(vocab)},
        indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    metrics_file = run_dir / "metrics.csv"
    if ck is not None and metrics_file.exists():
        # Drop rows written after the checkpoint (a crash between checkpoints).
        with open(metrics_file, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
    else:
        rows = []
    _write_metrics(metrics_file, rows)
    last_row_step = int(rows[-1]["step"]) if rows else -1
    last_val = float(rows[-1]["val_loss"]) if rows else math.nan

    # ---------------------------------------------------------------- header
    for wmsg in (warn_t, warn_v):
        if wmsg:
            log(wmsg)
    log(f"corpus: {corpus_obj.source}: {total:,} chars, vocab {len(vocab)}, "
        f"train {len(train_ids):,} / val {len(val_ids):,}"
        + (" (ids from the cache)" if corpus_obj.from_cache else ""))
    if len(val_ids) > 20 * n_slice and len(val_ids) > 1_000_000:
        log(f"note: the run ends by scoring the whole validation split, {len(val_ids):,} "
            f"chars; that takes about as long as training on a third as many. Lower "
            f"--val-frac (now {cfg.val_frac:g}) to shorten it")
    if vocab.unknown_char is not None:
        log(f"rare characters (seen fewer than {cfg.min_char_count} times, or beyond "
            f"--max-vocab {cfg.max_vocab}) are folded into one unknown symbol, U+FFFD")
    log(f"model: {cfg.num_layers}-layer {cfg.cell}, hidden {cfg.hidden_size}, embed "
        f"{cfg.embed_size}, {model.num_params:,} parameters, {cfg.dtype}")
    stop_desc = ", ".join(s for s in [
        f"{total_steps} steps" if total_steps is not None else "",
        f"{minutes:g} min" if minutes is not None else ""] if s)
    log(f"batches: N={N_train} x T={T}, {spe} steps per epoch; {cfg.optimizer} lr {cfg.lr:g}; "
        f"stop after {stop_desc}; run folder {run_dir}")
    if ck is not None:
        log(f"resuming at step {step} (epoch {epoch}, batch {batch})")
    else:
        log(f"a fresh model's loss is ln V = {math.log(len(vocab)):.3f} nats/char")

    # ---------------------------------------------------------------- the loop
    def save(name):
        p = progress()
        meta = dict(meta_static, step=step, epoch=epoch, batch=batch,
                    best_val_loss=None if math.isinf(best) else best,
                    lr_progress=p if p is not None else min(step / total_steps, 1.0),
                    rng=model.dropout_rng.bit_generator.state,
                    elapsed_s=elapsed0 + clock() - t_start)
        ckpt.save(run_dir / name, meta, model.params, opt.state_dict(), state)

    def replot():
        try:
            plot_runs([(run_dir.name, read_metrics(metrics_file))], run_dir / "loss.png")
        except CharlstmError:
            pass

    def evaluate_and_log(final=False):
        nonlocal best, last_row_step, last_val, train_sum, train_n, norm_sum, t_mark, chars_mark
        nonlocal eval_s, full_val
        t_eval = clock()
        scored = step == last_row_step                 # the slice was scored at this step
        val = last_val if scored else evaluate(model, val_batches)
        if final:
            full_val = val if val_batches is val_full else evaluate(model, val_full)
        now = clock()
        eval_s += now - t_eval
        if scored:                                     # add the whole split to that row
            _amend_last_row(metrics_file, val_full=f"{full_val:.6f}", eval_s=f"{eval_s:.2f}")
            if val_batches is not val_full:
                log(f"whole validation split ({val_full.chars_per_epoch:,} chars): "
                    f"{full_val:.4f} nats/char ({full_val / math.log(2):.3f} bits/char)")
            replot()
            return val
        chars = step * N_train * T
        row = {"step": step, "epoch": f"{step / spe:.4f}", "chars": chars,
               "train_loss": f"{train_sum / train_n:.6f}" if train_n else "",
               "val_loss": f"{val:.6f}", "val_bpc": f"{val / math.log(2):.6f}",
               "lr": f"{lr:.6g}", "grad_norm": f"{norm_sum / train_n:.4f}" if train_n else "",
               "chars_per_s": f"{(chars - chars_mark) / max(now - t_mark, 1e-9):.1f}",
               "elapsed_s": f"{elapsed0 + now - t_start:.2f}",
               "val_chars": val_batches.chars_per_epoch,
               "val_full": f"{full_val:.6f}" if final else "", "eval_s": f"{eval_s:.2f}"}
        with open(metrics_file, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, METRICS).writerow(row)
        last_row_step, last_val = step, val
        train_sum = train_n = norm_sum = 0
        log(f"step {step} (epoch {step / spe:.2f}): train {row['train_loss'] or '-'}, "
            f"val {val:.4f} nats/char ({val / math.log(2):.3f} bits/char), "
            f"{row['chars_per_s']} chars/s")
        if final and val_batches is not val_full:
            log(f"whole validation split ({val_full.chars_per_epoch:,} chars): "
                f"{full_val:.4f} nats/char ({full_val / math.log(2):.3f} bits/char)")
        if val < best:
            best = val
            save("best.npz")
        if cfg.sample_chars:
            text = sample(model, vocab, cfg.sample_chars,
                          rng=np.random.default_rng([cfg.seed, step]), temperature=0.8)
            with open(run_dir / "samples.txt", "a", encoding="utf-8") as f:
                f.write(f"--- step {step}, val loss {val:.4f} nats/char\n{text}\n\n")
        replot()
        t_mark, chars_mark = clock(), chars
        return val

    from tqdm import tqdm
    if not cfg.quiet:                                  # print above the progress bar
        log = lambda s: tqdm.write(s, file=sys.stderr)  # noqa: E731
    bar = tqdm(total=total_steps, initial=step, disable=cfg.quiet, unit="step",
               dynamic_ncols=True, file=sys.stderr, leave=True)
    t_start, step0 = clock(), step
    deadline = t_start + 60 * minutes if minutes is not None else math.inf
    t_mark, chars_mark = t_start, step * N_train * T
    train_sum = norm_sum = 0.0
    train_n = 0
    eval_s, full_val = 0.0, math.nan

    def progress():
        """Share of the budget used, for the decaying schedules: by steps when the run
        has a step limit, else by time, continuing from where a resumed run stopped."""
        if total_steps is not None:
            return None                                # learning_rate counts the steps
        return p0 + (1 - p0) * min((clock() - t_start) / (60 * minutes), 1.0)

    def lr_at(step, epoch):
        return learning_rate(cfg.lr, step, schedule=cfg.lr_schedule, epoch=epoch,
                             decay=cfg.lr_decay, decay_every=cfg.lr_decay_every,
                             warmup=cfg.warmup_steps, total_steps=total_steps,
                             min_lr=cfg.min_lr, progress=progress())

    # A resumed time-limited run goes on decaying from the progress it had reached, over
    # this invocation's budget; one whose decay had ended starts a new one (warm restart).
    p0 = ck.meta.get("lr_progress", 0.0) if ck is not None else 0.0
    if total_steps is None and cfg.lr_schedule in ("linear", "cosine") and p0 >= 0.999:
        log(f"the learning rate had decayed to --min-lr {cfg.min_lr:g}: this run restarts "
            f"the {cfg.lr_schedule} decay from --lr {cfg.lr:g} over {minutes:g} min")
        p0 = 0.0
    lr = lr_at(step, epoch)
    stopped_by = None
    diverged = None
    with _StopFlag() as interrupted:
        while True:
            if total_steps is not None and step >= total_steps:
                stopped_by = "epochs" if total_steps == epoch_steps else "steps"
                break
            if clock() >= deadline:
                stopped_by = "time"
                break
            if interrupted.set:
                stopped_by = "interrupt"
                break
            if batch == 0:                             # new epoch: reset the carried state
                state = model.init_state(N_train)
            x, y = train_batches.get(batch)
            lr = lr_at(step, epoch)
            loss, grads, new_state = model.loss_and_grads(x, y, state)
            norm = clip_grads(grads, cfg.grad_clip, cfg.clip_mode)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                diverged = (f"the loss became {'NaN' if math.isnan(loss) else loss} at step "
                            f"{step + 1} (gradient norm {norm:.3g}); lower --lr (now {cfg.lr:g}) "
                            f"or --grad-clip; the last finite weights are in {run_dir}/latest.npz")
                stopped_by = "nan"
                break
            opt.step(model.params, grads, lr)
            state = new_state                          # detached: only values carry over
            step += 1
            batch += 1
            if batch == spe:
                batch, epoch = 0, epoch + 1
            train_sum += loss
            norm_sum += norm
            train_n += 1
            bar.update(1)
            if step % cfg.eval_every == 0:
                evaluate_and_log()
            if step % cfg.checkpoint_every == 0:
                save("latest.npz")
            if not cfg.quiet and (step % 10 == 0 or step == 1):
                el = clock() - t_start
                post = {"loss": f"{loss:.3f}",
                        "val": "-" if math.isnan(last_val) else f"{last_val:.3f}",
                        "chars/s": f"{(step - step0) * N_train * T / max(el, 1e-9):,.0f}"}
                if minutes is not None and total_steps is None:
                    post["left"] = f"{max(deadline - t_start - el, 0) / 60:.1f}min"
                bar.set_postfix(post, refresh=False)
        bar.close()
        # Whatever stopped the run: a final validation pass and checkpoint.
        try:
            if stopped_by != "nan":
                evaluate_and_log(final=True)
        except KeyboardInterrupt:
            log("second Ctrl-C: skipping the final validation pass")
        if stopped_by != "nan" or all(np.isfinite(p).all() for p in model.params.values()):
            save("latest.npz")
    log(f"stopped by {stopped_by} at step {step} (epoch {step / spe:.2f}); "
        f"val loss {last_val:.4f} nats/char = {last_val / math.log(2):.4f} bits/char; "
        f"best {best:.4f}; whole validation split {full_val:.4f}; run folder {run_dir}")
    if diverged:
        raise Diverged(diverged)
    return TrainResult(run_dir, step, epoch, best, last_val, stopped_by, full_val)
