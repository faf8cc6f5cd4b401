"""When a run stops and how far along it is: Budget (the step, epoch and time limits, and
the share used, which the learning rate follows), the horizon a checkpoint's run decayed
over (``_previous_horizon``), and _Meter (the smoothed train loss, the gradient norm
and the speed).
"""

from __future__ import annotations

import math
import time

from .config import DEFAULT_MINUTES, TrainConfig


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


def _previous_horizon(ck) -> int | None:
    """The step total a checkpoint's run spread its decay over (None: a time budget)."""
    if "total_steps" in ck.meta:
        return ck.meta["total_steps"]
    t, spe = ck.meta.get("train", {}), ck.meta.get("steps_per_epoch")
    limits = [t.get("max_steps"), max(1, round(t["epochs"] * spe)) if t.get("epochs") and spe else None]
    limits = [n for n in limits if n is not None]
    return min(limits) if limits else None
