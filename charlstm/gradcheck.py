"""Finite-difference gradient checking, for layers and for the whole model.

The analytic gradient of every parameter (and of the initial h and c) is compared with
a centred finite difference (fourth order, see ``numeric_gradient``), in float64, element by element:

    rel_error = |analytic - numeric| / max(|analytic| + |numeric|, tiny)

A correct float64 implementation gives about 1e-8 or better; a wrong backward term gives
1e-2 or worse. Dropout is off (its random masks would change f between evaluations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import CharlstmError
from .model import CharLSTM, ModelConfig

THRESHOLD = 1e-6
EPS = 1e-3


def numeric_gradient(f, x, eps=EPS, order=4):
    """Centred finite-difference gradient of scalar f() w.r.t. array x (changed in place).

    Fourth-order centred stencil: (f(x-2e) - 8 f(x-e) + 8 f(x+e) - f(x+2e)) / (12 e).
    Its truncation error is O(e^4) instead of O(e^2), so a larger step e can be used and
    float64 round-off in f (about 1e-16 * |f| / e) stops hiding errors near 1e-9.
    ``order=2`` is the plain (f(x+e) - f(x-e)) / (2 e), half the calls of f, for checks
    that only need to tell 1e-6 from 1e-2 (use a smaller eps, e.g. 1e-5).
    """
    grad = np.zeros_like(x, dtype=np.float64)
    steps = (-2, -1, 1, 2) if order == 4 else (-1, 1)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        ix = it.multi_index
        old = x[ix]
        fs = []
        for k in steps:
            x[ix] = old + k * eps
            fs.append(f())
        x[ix] = old
        if order == 4:
            # Pairwise differences first: equal f values then give exactly 0.
            grad[ix] = (8 * (fs[2] - fs[1]) - (fs[3] - fs[0])) / (12 * eps)
        else:
            grad[ix] = (fs[1] - fs[0]) / (2 * eps)
    return grad


def numeric_gradient_array(f, x, df, eps=EPS):
    """Finite-difference vector-Jacobian product sum(f() * df) w.r.t. x, for array outputs."""
    return numeric_gradient(lambda: float(np.sum(f() * df)), x, eps)


def rel_error(analytic, numeric):
    """Largest element-wise relative error (0 for two all-zero arrays)."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-12), initial=0.0))


@dataclass
class CheckRow:
    name: str
    shape: tuple
    max_rel_error: float
    max_abs_error: float

    @property
    def ok(self):
        return self.max_rel_error < THRESHOLD


def check_model(cell="lstm", layers=1, hidden=5, N=2, T=3, vocab=6, embed=4, seed=0,
                eps=EPS, model=None):
    """Check every gradient of a small float64 model; returns a list of CheckRow.

    ``model`` (optional) replaces the freshly built one; it must be float64 with dropout 0.
    """
    if model is None:
        cfg = ModelConfig(vocab_size=vocab, hidden_size=hidden, num_layers=layers,
                          cell=cell, embed_size=embed, dropout=0.0)
        model = CharLSTM(cfg, seed=seed, dtype=np.float64)
    cfg = model.cfg
    rng = np.random.default_rng(seed + 100)
    x = rng.integers(0, cfg.vocab_size, (N, T))
    y = rng.integers(0, cfg.vocab_size, (N, T))
    shape = (cfg.num_layers, N, cfg.hidden_size)
    # A non-zero initial state, so dh0 and dc0 are exercised.
    h0 = rng.standard_normal(shape) * 0.5
    c0 = rng.standard_normal(shape) * 0.5 if cfg.cell == "lstm" else np.zeros(shape)

    _, grads, _, (dh0, dc0) = model.forward_backward(x, y, (h0, c0), train=False)

    def f():
        return model.forward_backward(x, y, (h0, c0), train=False)[0]

    rows = []
    targets = list(model.params.items()) + [("h0", h0)]
    analytic = dict(grads, h0=dh0)
    if cfg.cell == "lstm":
        targets.append(("c0", c0))
        analytic["c0"] = dc0
    return compare_gradients(f, dict(targets), analytic, eps)


def compare_gradients(f, arrays: dict, grads: dict, eps=EPS):
    """Analytic gradients against finite differences of the scalar ``f()``: [CheckRow], for
    ``format_table``. (For code of any API, with a report that localises a wrong gradient,
    see ``charlstm.check_gradients``.)

    arrays: {name: array f reads} (each is nudged in place and restored);
    grads: {name: the analytic gradient of f w.r.t. that array}, same shapes.
    To check a function with array outputs, make f the sum of each output times a fixed
    random upstream gradient: its gradient is then exactly what the backward returns.

        def f():
            next_h, next_c, _ = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
            return np.sum(next_h * dnext_h) + np.sum(next_c * dnext_c)
        rows = compare_gradients(f, {"x": x, ...}, {"x": dx, ...})
        print(format_table(rows))
    """
    rows = []
    for name, arr in arrays.items():
        a = np.asarray(grads[name])
        if a.shape != arr.shape:
            raise CharlstmError(f"the gradient given for {name} has shape {a.shape} but {name} "
                                f"has {arr.shape}; a gradient has the shape of its array")
        num = numeric_gradient(f, arr, eps)
        rows.append(CheckRow(name, tuple(arr.shape), rel_error(a, num),
                             float(np.max(np.abs(a - num), initial=0.0))))
    return rows


def format_table(rows):
    """The rows as an aligned text table with a pass/fail column."""
    lines = [f"{'parameter':<12} {'shape':<12} {'max rel error':>14} {'max abs error':>14}  result",
             "-" * 66]
    for r in rows:
        shape = "x".join(map(str, r.shape))
        lines.append(f"{r.name:<12} {shape:<12} {r.max_rel_error:>14.2e} "
                     f"{r.max_abs_error:>14.2e}  {'pass' if r.ok else 'FAIL'}")
    return "\n".join(lines)
