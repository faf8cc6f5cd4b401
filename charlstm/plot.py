"""Loss curves from metrics.csv files (plotting never needs a model)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from .errors import CharlstmError

X_AXES = {"steps": ("step", "training step"), "chars": ("chars", "characters seen"),
          "time": ("elapsed_s", "elapsed time (s)")}


def metrics_path(path) -> Path:
    """A run folder or a metrics.csv -> the metrics.csv path (checked)."""
    p = Path(path)
    if p.is_dir():
        p = p / "metrics.csv"
    if not p.is_file():
        raise CharlstmError(f"{path}: no metrics.csv found; pass a run folder or a metrics.csv")
    return p


def read_metrics(path) -> dict:
    """metrics.csv -> {column: [float, ...]} (empty cells become nan)."""
    p = metrics_path(path)
    with open(p, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "val_loss" not in rows[0]:
        raise CharlstmError(f"{p} has no metrics rows yet")

    def num(v):
        try:
            return float(v)
        except (TypeError, ValueError):
            return math.nan
    return {k: [num(r[k]) for r in rows] for k in rows[0]}


def runs_figure(runs, x="steps", title=None):
    """runs: [(label, metrics dict)] -> a matplotlib Figure: train (dashed) and val (solid) loss.

    The val curve is the periodic evaluation, on a fixed slice of the validation split
    when the split is large (its size in the legend); stars mark the whole split, scored
    at the end of each training invocation. The left axis is nats per character, the
    right one bits per character. Built without pyplot (no backend is chosen, nothing
    global changes): a notebook shows it as it is, ``plot_runs`` saves it.
    """
    from matplotlib.figure import Figure

    if x not in X_AXES:
        raise CharlstmError(f"--x must be one of {', '.join(X_AXES)}, got {x!r}")
    col, xlabel = X_AXES[x]
    fig = Figure(figsize=(8, 5), dpi=100)
    ax = fig.subplots()
    for n, (label, m) in enumerate(runs):
        color = f"C{n % 10}"
        prefix = f"{label}: " if len(runs) > 1 else ""
        ax.plot(m[col], m["train_loss"], "--", color=color, alpha=0.8, label=f"{prefix}train")
        full = m.get("val_full", [math.nan] * len(m[col]))
        sliced = any(not math.isnan(f) and f != v for f, v in zip(full, m["val_loss"]))
        n = m.get("val_chars", [math.nan])[-1]
        what = f"val, first {int(n):,} chars" if sliced and not math.isnan(n) else "val"
        ax.plot(m[col], m["val_loss"], "-o", color=color, markersize=3, label=f"{prefix}{what}")
        pts = [(a, f) for a, f in zip(m[col], full) if not math.isnan(f)]
        if sliced and pts:
            ax.plot(*zip(*pts), "*", color=color, markersize=10,
                    label=f"{prefix}val, whole split")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss (nats/char)")
    sec = ax.secondary_yaxis("right", functions=(lambda v: v / math.log(2),
                                                 lambda v: v * math.log(2)))
    sec.set_ylabel("bits/char")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or ("charlstm loss" if len(runs) > 1 else f"charlstm loss: {runs[0][0]}"))
    fig.tight_layout()
    return fig


def plot_runs(runs, out, x="steps", title=None):
    """runs: [(label, metrics dict)] -> PNG at ``out`` (see ``runs_figure``)."""
    runs_figure(runs, x, title).savefig(out)
    return Path(out)
