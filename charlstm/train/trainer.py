"""The loop: a Trainer is one invocation of a run (the model, the optimizer, where the run
is); ``run()`` trains until the budget says stop, and its steps get a batch, count,
evaluate, save, score best.npz, finish and log.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
from tqdm import tqdm

from .. import checkpoint as ckpt
from ..model import CharLSTM
from ..optim import WeightAverage, clip_grads, learning_rate, make_optimizer, take_step
from ..sample import sample, sample_record
from .budget import Budget, _Meter, _previous_horizon
from .config import Diverged, EvaluationStopped, RunFolderError, TrainConfig, TrainResult
from .data import TrainData, evaluate
from .folder import RunFolder
from .signals import _STDERR, _StopFlag, _describe_signal


def _nats(loss: float, unit: str = "char") -> str:
    return f"{loss:.4f} nats/{unit} ({loss / math.log(2):.3f} bits/{unit})"


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
                              params=params, threads=cfg.threads, init=cfg.init)
        self.opt = make_optimizer(cfg.optimizer, self.model.params, cfg.momentum)
        # The weight average (ema.npz at the end); None with --ema-decay 0.
        self.average = (WeightAverage(self.model.params, cfg.ema_decay)
                        if cfg.ema_decay > 0 else None)
        self.resumed = ck is not None
        if ck is None:
            self.step = self.epoch = self.batch = 0
            self.best, self.elapsed0 = math.inf, 0.0
            self.state = self.model.init_state(data.train.N)
        else:
            self.model.dropout_rng.bit_generator.state = ck.meta["rng"]
            self.opt.load_state_dict(ck.optim)
            if self.average is not None and not self.average.load_state_dict(ck.optim):
                self.log("the checkpoint holds no weight average: it starts again from "
                         "these weights")
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
        self.ema_full = math.nan                       # ema.npz on the whole split, at the end
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
                    take_step(opt, model.params, grads, self.lr, cfg.weight_decay)
                    self.count(loss, norm, new_state)
                    if self.average is not None:
                        self.average.update(model.params, self.step)
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
                           self.best_step, self.ema_full)

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
        with self.stop.saving_checkpoint():
            self.folder.save_checkpoint(name, self.checkpoint_meta(), self.model, self.opt,
                                        self.state,
                                        self.average.state_dict() if self.average else None)

    def checkpoint_meta(self) -> dict:
        """What a checkpoint records besides the run's description: where the run is."""
        return dict(self.meta, step=self.step, epoch=self.epoch, batch=self.batch,
                    best_val_loss=None if math.isinf(self.best) else self.best,
                    lr_progress=self.budget.progress(self.step),
                    rng=self.model.dropout_rng.bit_generator.state,
                    elapsed_s=self.elapsed0 + self.budget.elapsed(),
                    train_loss_ema=[self.meter.ema, self.meter.weight],
                    full_val_loss=self.full_val if math.isfinite(self.full_val) else None,
                    threads=self.threads_used, total_steps=self.budget.total_steps)

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

    def save_average(self, stop=None):
        """At the end of a run, the weight average as ema.npz (weights only: for sample,
        eval, export and --init-from, not --resume), scored on the whole validation split
        beside the last weights and best.npz, and which of the three scores lowest."""
        if self.average is None:
            return
        avg = self.average
        span = min(1 / (1 - avg.decay), 4 * (10 + self.step) / 9)   # steps it mostly spans
        meta = dict(self.checkpoint_meta(), best_val_loss=None, weights="ema",
                    ema_decay=avg.decay, ema_span_steps=round(span), full_val_loss=None)
        if math.isfinite(self.full_val):
            model = CharLSTM(self.model.cfg, seed=None, dtype=self.model.dtype,
                             threads=self.cfg.threads, params=avg.params)
            t0 = self.clock()
            try:
                self.ema_full = evaluate(model, self.data.val_full, stop)
                meta["full_val_loss"] = self.ema_full
            except EvaluationStopped as e:
                self.log(f"ema.npz not scored on the whole validation split ({e})")
            finally:
                self.eval_s += self.clock() - t0
        with self.stop.saving_checkpoint():
            self.folder.save_weights("ema.npz", meta, avg.params)
        if not math.isfinite(self.ema_full):
            return
        scores = {"ema.npz": self.ema_full, "the last weights": self.full_val}
        if math.isfinite(self.best_full) and self.best_step != self.step:
            scores["best.npz"] = self.best_full
        lowest = min(scores, key=scores.get)
        self.log(f"ema.npz (the weights averaged over about the last {span:,.0f} steps, "
                 f"--ema-decay {avg.decay:g}) on the whole validation split: "
                 f"{self.ema_full:.4f} nats/{self.unit}; "
                 + ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if k != "ema.npz")
                 + f": the lowest is {lowest}")

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
            self.save_average(stop=self.evaluation_cut)
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
        if math.isfinite(self.ema_full):
            parts.append(f"ema.npz (averaged weights) {self.ema_full:.4f}")
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
