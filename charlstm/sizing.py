"""The model's size for a time budget: the biggest that still reads the corpus ten times.

On a fast machine, ten minutes of the 2 x 256 LSTM read a corpus of a megabyte 25 times
or more, and it overfits: more steps stop paying. A wider model with more dropout, at
half the steps, ends lower (docs/defaults.md, "When the budget outruns the corpus" and
"The size chosen for the budget"):

    Tiny Shakespeare, 10 min, native kernel   2 x 256, dropout 0.2: 26-28 epochs, 1.438 / 1.442
                                              2 x 384, dropout 0.35: 12 epochs, 1.415 / 1.419
                                              2 x 512, dropout 0.4: 7.7 epochs, 1.426
    python-docs (465 kB), 10 min              2 x 384, dropout 0.35: 27-30 epochs, 1.20-1.21
                                              2 x 512, dropout 0.5: 17 epochs, 1.113
    C headers (2 MB), 10 min                  2 x 256: 14 epochs, 1.489; 2 x 384: 6.7 epochs, 1.485

So a new run with a time budget, whose size the user left open, times a few training
steps of the bigger candidates (CANDIDATES), smallest first, on its own data, estimates
the epochs each would read within the budget, and takes the biggest that reads at least
MIN_EPOCHS; if none does, the smallest (the defaults, never timed). A candidate that
falls short ends the timing: a bigger one steps slower still, so a short budget or a
slow machine pays for one timing, not for all. The seconds spent timing count against
the budget.
The choice is logged, written into config.json and every checkpoint (``size_choice``),
shown by ``charlstm info``, and kept when the run is resumed; ``--hidden-size`` or
``--dropout`` choose instead, and ``--no-auto-size`` keeps TrainConfig's defaults.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace

import numpy as np

from .model import CharLSTM
from .optim import clip_grads, make_optimizer, take_step

# (hidden size, dropout), smallest first: the first is TrainConfig's default.
CANDIDATES = ((256, 0.2), (384, 0.35), (512, 0.5))
MIN_EPOCHS = 10.0
MIN_BUDGET_S = 60.0                                    # below a minute, the defaults: no timing
# The share of a run's time its training steps get (the rest: evaluations, samples,
# plots, checkpoints). With it, the timing's estimate of the steps was within 4% of what
# three of four 10-minute runs took, 17% low in the fourth (docs/defaults.md).
STEP_SHARE = 0.93
TIMED_STEPS = 3                                        # after one untimed step (numba compiles)
PROBE_SHARE, PROBE_MIN_S = 0.02, 1.0                   # the timing's allowance: 2% of the budget, or 1 s


@dataclass
class SizeChoice:
    hidden_size: int
    dropout: float
    timed: list                                        # [{"hidden_size", "dropout", "s_per_step", "epochs"}]
    budget_s: float
    probe_s: float                                     # seconds the timing took (out of the budget)

    def to_meta(self) -> dict:
        """What config.json and the checkpoints record as ``size_choice``."""
        meta = {"hidden_size": self.hidden_size, "dropout": self.dropout, "timed": self.timed,
                "min_epochs": MIN_EPOCHS, "budget_s": self.budget_s,
                "probe_s": round(self.probe_s, 3)}
        return meta | {"why": why(meta)}


def why(meta: dict) -> str:
    """One line: what was chosen and on what figures (from a size_choice meta)."""
    said = []
    for c in meta["timed"]:
        model = f"2 x {c['hidden_size']} (dropout {c['dropout']:g})"
        said.append(f"{model} takes {c['s_per_step'] * 1000:.0f} ms a step and would read the "
                    f"corpus ~{c['epochs']:.1f} times"
                    + (f", fewer than {meta['min_epochs']:g}"
                       if c["epochs"] < meta["min_epochs"] else ""))
    seen = {c["hidden_size"] for c in meta["timed"]}
    untimed = [str(h) for h, _ in CANDIDATES if h > meta["hidden_size"] and h not in seen]
    if untimed:
        short = meta["timed"] and meta["timed"][-1]["epochs"] < meta["min_epochs"]
        said.append(f"2 x {', '.join(untimed)} not timed: "
                    + ("a bigger model steps slower still" if short
                       else "the timing had used its share of the budget"))
    return (f"size: 2 x {meta['hidden_size']}, dropout {meta['dropout']:g}, chosen for the "
            f"{meta['budget_s'] / 60:g}-min budget: " + "; ".join(said)
            + f" (the biggest model that reads the corpus {meta['min_epochs']:g} times or more "
            "wins, docs/defaults.md; --hidden-size, --dropout or --no-auto-size choose instead)")


def applies(cfg, explicit: set, budget_s: float) -> bool:
    """Whether a new run's size is chosen for its budget: a time budget of a minute or
    more (no step or epoch limit), a stream of text (not records), the 2-layer LSTM the
    candidates were measured as, and neither size nor dropout set by the user."""
    return (cfg.auto_size and cfg.max_steps is None and cfg.epochs is None
            and budget_s >= MIN_BUDGET_S
            and not cfg.records and cfg.cell == "lstm" and cfg.num_layers == 2
            and not explicit & {"hidden_size", "dropout"})


def step_seconds(cfg, data, clock=time.perf_counter, steps: int = TIMED_STEPS,
                 deadline: float = float("inf")) -> float:
    """Seconds a training step of ``cfg``'s model takes on the run's first batch: the
    median of ``steps`` steps after one untimed one (at least one, more until ``clock()``
    passes ``deadline``: the untimed step, which may compile numba's kernels, is not held
    to it). A throwaway model and optimizer; nothing of the run (its generators,
    its data position) is touched."""
    model = CharLSTM(cfg.model_config(len(data.vocab)), seed=None, dtype=np.dtype(cfg.dtype),
                     threads=cfg.threads)
    opt = make_optimizer(cfg.optimizer, model.params, cfg.momentum)
    x, y = data.train.get(0, 0)
    state = model.init_state(x.shape[0])
    times = []
    for i in range(steps + 1):
        t0 = clock()
        _, grads, state = model.loss_and_grads(x, y, state)
        clip_grads(grads, cfg.grad_clip, cfg.clip_mode)
        take_step(opt, model.params, grads, 1e-4, cfg.weight_decay)   # the run's update
        if i:
            times.append(clock() - t0)
            if clock() > deadline:
                break
    return statistics.median(times)


def choose(cfg, data, budget_s: float, clock=time.perf_counter, time_step=None):
    """The run's settings with the chosen size and dropout, and the SizeChoice.

    The candidates are timed smallest first, and the biggest that would read the corpus
    MIN_EPOCHS times is taken; the smallest, the defaults, needs no timing. The timing
    stops at the first candidate that falls short (a bigger one steps slower), and at
    PROBE_SHARE of the budget (PROBE_MIN_S at least): a candidate not timed by then is
    not chosen. time_step(cfg, deadline) -> seconds a step of cfg's model takes
    (default: ``step_seconds``).
    """
    time_step = time_step or (lambda c, deadline: step_seconds(c, data, clock, deadline=deadline))
    t0 = clock()
    deadline = t0 + max(PROBE_SHARE * budget_s, PROBE_MIN_S)
    timed, chosen = [], CANDIDATES[0]
    for hidden, dropout in CANDIDATES[1:]:
        if clock() > deadline:
            break
        s = time_step(replace(cfg, hidden_size=hidden, dropout=dropout), deadline)
        steps = max(budget_s - (clock() - t0), 0.0) * STEP_SHARE / max(s, 1e-9)
        epochs = steps / data.steps_per_epoch
        timed.append({"hidden_size": hidden, "dropout": dropout, "s_per_step": round(s, 6),
                      "epochs": round(epochs, 2)})
        if epochs < MIN_EPOCHS:
            break
        chosen = (hidden, dropout)
    choice = SizeChoice(chosen[0], chosen[1], timed, budget_s, clock() - t0)
    return replace(cfg, hidden_size=chosen[0], dropout=chosen[1]).validate(), choice
