"""The layers a learner writes, as charlstm computes them, in charlstm's own layout.

A ``Family`` is one layer's math, whatever an API calls it: the inputs of a test case,
charlstm's reference (``layers.py``) and the naive variant with catalogue mistakes
switched on (``catalogue.py``), all in charlstm's layout: batch first (x (N, T, D),
h (N, T, H)), fused gates in the order i, f, o, g. An API module maps each of its
functions onto a family and says how its own arrays differ (``apis.Layout``).

Names follow the coursework: a gradient is ``"d" + name`` of what it is the gradient of
(``dWx`` of ``Wx``), and the upstream gradient of an output likewise (``dh`` of ``h``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import fused
from .. import layers as L
from . import catalogue as M


@dataclass
class Case:
    """One set of sizes (all different, so a swapped axis cannot pass) and its generator."""
    N: int
    T: int
    D: int
    H: int
    V: int
    rng: np.random.Generator


CASES = [(3, 4, 5, 6, 7), (4, 3, 7, 2, 9)]
WEIGHT_INPUTS = {"dWx": "x", "dWh": "prev_h", "dw": "x"}     # a weight's gradient is input.T @ da


@dataclass(frozen=True)
class Family:
    """One layer: its inputs, outputs and gradients by name, and how to compute them.

    make(case) -> {input: array}, in ``inputs`` order;
    reference(inputs, upstream=None) -> {output: array}, or {gradient: array} with upstream;
    naive(inputs, upstream, knobs) -> the same, with the catalogue's mistakes ``knobs`` on.
    """
    name: str
    inputs: tuple
    outputs: tuple
    grads: tuple
    axes: dict                     # array name -> axis names, e.g. ("N", "T", "D")
    make: Callable
    reference: Callable
    naive: Callable
    unavailable: frozenset = frozenset()    # mistakes this variant cannot show
    self_grads: dict = field(default_factory=dict)   # output -> (of output, wrt input)
    weight_inputs: dict = field(default_factory=lambda: dict(WEIGHT_INPUTS))  # dWx = x.T @ da
    upstream: tuple = None         # the outputs the backward gets gradients of (None: all)

    @property
    def upstream_of(self):
        return self.outputs if self.upstream is None else self.upstream

    def axes_of(self, name):
        """Axes of an input, output, gradient or upstream gradient."""
        if name in self.axes:
            return self.axes[name]
        return self.axes.get(name[1:], ())


def _w(r, *shape, s=0.4):
    return r.standard_normal(shape) * s


# =========================================================================== steps
# ``readout``: the step also predicts, y = softmax(h @ Wy + by) over the vocabulary, as
# deeplearning.ai's cells do (yt_pred); the backward takes no gradient of y (the
# assignment's backward starts from da, after the softmax), so ``upstream`` leaves it out.

def softmax_rows(z):
    """softmax over the last axis (stable)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _with_readout(make, readout):
    """make(case) plus Wy (H, V) and by (V,) when ``readout``, drawn after the rest."""
    if not readout:
        return make

    def make_readout(c):
        return dict(make(c), Wy=_w(c.rng, c.H, c.V, s=1), by=_w(c.rng, c.V))
    return make_readout


def _predict(v, h):
    return softmax_rows(h @ v["Wy"] + v["by"])


_STEP_AXES = {"x": ("N", "D"), "prev_h": ("N", "H"), "prev_c": ("N", "H"), "Wx": ("D", "G"),
              "Wh": ("H", "G"), "b": ("G",), "next_h": ("N", "H"), "next_c": ("N", "H"),
              "Wy": ("H", "V"), "by": ("V",), "y": ("N", "V")}


def rnn_step(readout=False):
    """One tanh-RNN step: next_h = tanh(x @ Wx + prev_h @ Wh + b)."""
    def make(c):
        r, N, D, H = c.rng, c.N, c.D, c.H
        return dict(x=_w(r, N, D, s=1), prev_h=_w(r, N, H, s=1), Wx=_w(r, D, H), Wh=_w(r, H, H), b=_w(r, H))

    def reference(v, up=None):
        h, cache = L.rnn_step_forward(v["x"], v["prev_h"], v["Wx"], v["Wh"], v["b"])
        if up is None:
            return dict(next_h=h, y=_predict(v, h)) if readout else {"next_h": h}
        return dict(zip(fam.grads, L.rnn_step_backward(up["dnext_h"], cache)))

    def naive(v, up=None, k={}):
        args = (v["x"], v["prev_h"], v["Wx"], v["Wh"], v["b"])
        if up is None:
            h = M.rnn_step(*args, k=k)
            return dict(next_h=h, y=_predict(v, h)) if readout else {"next_h": h}
        return M.rnn_step(*args, up["dnext_h"], k=k)[1]

    inputs = ("x", "prev_h", "Wx", "Wh", "b") + (("Wy", "by") if readout else ())
    fam = Family("rnn_step", inputs, ("next_h", "y") if readout else ("next_h",),
                 ("dx", "dprev_h", "dWx", "dWh", "db"), _STEP_AXES, _with_readout(make, readout),
                 reference, naive, upstream=("next_h",))
    return fam


def lstm_step(readout=False):
    """One LSTM step, gates fused in the order i, f, o, g (see catalogue.lstm_step)."""
    def make(c):
        r, N, D, H = c.rng, c.N, c.D, c.H
        return dict(x=_w(r, N, D, s=1), prev_h=_w(r, N, H, s=1), prev_c=_w(r, N, H, s=1),
                    Wx=_w(r, D, 4 * H), Wh=_w(r, H, 4 * H), b=_w(r, 4 * H))

    def args(v):
        return v["x"], v["prev_h"], v["prev_c"], v["Wx"], v["Wh"], v["b"]

    def reference(v, up=None):
        h, c, cache = L.lstm_step_forward(*args(v))
        if up is None:
            return dict(next_h=h, next_c=c, **({"y": _predict(v, h)} if readout else {}))
        return dict(zip(fam.grads, L.lstm_step_backward(up["dnext_h"], up["dnext_c"], cache)))

    def naive(v, up=None, k={}):
        if up is None:
            h, c = M.lstm_step(*args(v), k=k)
            return dict(next_h=h, next_c=c, **({"y": _predict(v, h)} if readout else {}))
        return M.lstm_step(*args(v), up["dnext_h"], up["dnext_c"], k=k)[1]

    inputs = ("x", "prev_h", "prev_c", "Wx", "Wh", "b") + (("Wy", "by") if readout else ())
    fam = Family("lstm_step", inputs, ("next_h", "next_c") + (("y",) if readout else ()),
                 ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), _STEP_AXES,
                 _with_readout(make, readout), reference, naive, upstream=("next_h", "next_c"))
    return fam


RNN_STEP, LSTM_STEP = rnn_step(), lstm_step()


# =========================================================================== sequences

_SEQ_AXES = {"x": ("N", "T", "D"), "h0": ("N", "H"), "c0": ("N", "H"), "Wx": ("D", "G"),
             "Wh": ("H", "G"), "b": ("G",), "h": ("N", "T", "H"), "hT": ("N", "H"), "cT": ("N", "H"),
             "c": ("N", "T", "H"), "Wy": ("H", "V"), "by": ("V",), "y": ("N", "T", "V")}


def rnn(final=False, readout=False):
    """A tanh RNN over T steps; ``final``: the last hidden state is returned too (hT);
    ``readout``: every step's prediction y (N, T, V) too."""
    outputs = ("h",) + (("y",) if readout else ()) + (("hT",) if final else ())

    def make(c):
        r, N, T, D, H = c.rng, c.N, c.T, c.D, c.H
        return dict(x=_w(r, N, T, D, s=1), h0=_w(r, N, H, s=1), Wx=_w(r, D, H), Wh=_w(r, H, H), b=_w(r, H))

    def reference(v, up=None):
        h, hT, cache = L.rnn_forward(v["x"], v["h0"], v["Wx"], v["Wh"], v["b"])
        if up is None:
            out = {"h": np.array(h), "y": _predict(v, np.array(h)) if readout else None, "hT": hT}
            return {n: out[n] for n in outputs}
        g = L.rnn_backward(up["dh"], cache, up.get("dhT"))
        return dict(zip(fam.grads, (np.array(a) for a in g)))

    def naive(v, up=None, k={}):
        return _sequence(M.rnn_step, v, up, k, (v["h0"],), outputs, fam.grads)

    inputs = ("x", "h0", "Wx", "Wh", "b") + (("Wy", "by") if readout else ())
    fam = Family("rnn", inputs, outputs, ("dx", "dh0", "dWx", "dWh", "db"),
                 _SEQ_AXES, _with_readout(make, readout), reference, naive,
                 frozenset() if final else frozenset({"seq_final_state_ignored"}),
                 upstream=tuple(n for n in outputs if n != "y"))
    return fam


def lstm(c0=False, final=False, readout=False, cells=False):
    """An LSTM over T steps; ``c0``: the initial cell state is an input (else zero);
    ``final``: the last hidden and cell states are returned too (hT, cT); ``readout``: every
    step's prediction y (N, T, V); ``cells``: every step's cell state c (N, T, H)."""
    inputs = ("x", "h0", "c0", "Wx", "Wh", "b") if c0 else ("x", "h0", "Wx", "Wh", "b")
    inputs += ("Wy", "by") if readout else ()
    outputs = (("h",) + (("y",) if readout else ()) + (("c",) if cells else ())
               + (("hT", "cT") if final else ()))
    grads = ("dx", "dh0", "dc0", "dWx", "dWh", "db") if c0 else ("dx", "dh0", "dWx", "dWh", "db")

    def make(c):
        r, N, T, D, H = c.rng, c.N, c.T, c.D, c.H
        d = dict(x=_w(r, N, T, D, s=1), h0=_w(r, N, H, s=1))
        if c0:
            d["c0"] = _w(r, N, H, s=1)
        return dict(d, Wx=_w(r, D, 4 * H), Wh=_w(r, H, 4 * H), b=_w(r, 4 * H))

    def reference(v, up=None):
        with fused.off():                              # the NumPy loops, not the compiled steps
            return _reference(v, up)

    def _reference(v, up):
        c_0 = v.get("c0", np.zeros_like(v["h0"]))
        h, hT, cT, cache = L.lstm_forward(v["x"], v["h0"], c_0, v["Wx"], v["Wh"], v["b"])
        if up is None:
            out = {"h": np.array(h), "hT": hT, "cT": cT}
            if readout:
                out["y"] = _predict(v, out["h"])
            if cells:
                out["c"] = _cell_states(v, c_0)
            return {n: out[n] for n in outputs}
        dx, dh0, dc0, dWx, dWh, db = L.lstm_backward(up["dh"], cache, up.get("dhT"), up.get("dcT"))
        g = {"dx": np.array(dx), "dh0": dh0, "dc0": dc0, "dWx": dWx, "dWh": dWh, "db": db}
        return {k: g[k] for k in grads}

    def naive(v, up=None, k={}):
        state0 = (v["h0"], v.get("c0", np.zeros_like(v["h0"])))
        return _sequence(M.lstm_step, v, up, k, state0, outputs, grads)

    return Family("lstm", inputs, outputs, grads, _SEQ_AXES, _with_readout(make, readout),
                  reference, naive, frozenset() if final else frozenset({"seq_final_state_ignored"}),
                  upstream=tuple(n for n in outputs if n not in ("y", "c")))


def _cell_states(v, c_0):
    """c (N, T, H): the cell state after every step, by charlstm's step function."""
    h, c, cs = v["h0"], c_0, []
    for t in range(v["x"].shape[1]):
        h, c, _ = L.lstm_step_forward(v["x"][:, t], h, c, v["Wx"], v["Wh"], v["b"])
        cs.append(c)
    return np.stack(cs, axis=1)


def _sequence(step, v, up, k, state0, outputs, grads):
    weights = (v["Wx"], v["Wh"], v["b"])
    if up is None:
        h, states = M.sequence(step, v["x"], state0, weights, k=k, every_state=True)
        out = {"h": h, "hT": states[-1][0]}
        if len(states[-1]) > 1:
            out["cT"] = states[-1][1]
            out["c"] = np.stack([s[1] for s in states], axis=1)
        if "y" in outputs:
            out["y"] = _predict(v, h)
        return {n: out[n] for n in outputs}
    dT = [up["d" + n] for n in outputs if n in ("hT", "cT")] or None
    _, g = M.sequence(step, v["x"], state0, weights, up["dh"], dT, k=k)
    return {n: g[n] for n in grads}


# =========================================================================== the rest of the model

def _embedding_make(c):
    x = c.rng.integers(0, c.V, (c.N, c.T))
    x.flat[: 3] = x.flat[-1]                                   # ids that repeat
    return dict(x=x, W=_w(c.rng, c.V, c.D, s=1))


def _embedding_ref(v, up=None):
    out, cache = L.embedding_forward(v["x"], v["W"])
    return {"out": np.array(out)} if up is None else {"dW": L.embedding_backward(up["dout"], cache)}


def _embedding_naive(v, up=None, k={}):
    if up is None:
        return {"out": v["W"][v["x"]]}
    return {"dW": M.embedding_backward(v["x"], v["W"].shape[0], up["dout"], k)}


WORD_EMBEDDING = Family("word_embedding", ("x", "W"), ("out",), ("dW",),
                        {"x": ("N", "T"), "W": ("V", "D"), "out": ("N", "T", "D")},
                        _embedding_make, _embedding_ref, _embedding_naive)


def _affine_make(c):
    r = c.rng
    return dict(x=_w(r, c.N, c.T, c.D, s=1), w=_w(r, c.D, c.V), b=_w(r, c.V))


def _affine_ref(v, up=None):
    out, cache = L.temporal_affine_forward(v["x"], v["w"], v["b"])
    if up is None:
        return {"out": np.array(out)}
    dx, dw, db = L.temporal_affine_backward(up["dout"], cache)
    return {"dx": np.array(dx), "dw": dw, "db": db}


def _affine_naive(v, up=None, k={}):
    x, w, b = v["x"], v["w"], v["b"]
    if up is None:
        return {"out": x @ w + b}
    d = up["dout"]
    return {"dx": d @ w.T, "dw": x.reshape(-1, x.shape[-1]).T @ d.reshape(-1, d.shape[-1]),
            "db": d.sum((0, 1))}


TEMPORAL_AFFINE = Family("temporal_affine", ("x", "w", "b"), ("out",), ("dx", "dw", "db"),
                         {"x": ("N", "T", "D"), "w": ("D", "M"), "b": ("M",), "out": ("N", "T", "M")},
                         _affine_make, _affine_ref, _affine_naive)


def softmax_loss(mean=False, mask=True):
    """Softmax cross-entropy over (N, T) with a mask; the loss summed over time and divided
    by N (the coursework), or with ``mean`` averaged over the counted positions (charlstm).
    Without ``mask`` the function takes none and every position counts."""

    def make(c):
        r = c.rng
        m = r.random((c.N, c.T)) < 0.7
        m[0, 0] = False
        d = dict(x=_w(r, c.N, c.T, c.V, s=2), y=r.integers(0, c.V, (c.N, c.T)), mask=m)
        if not mask:
            del d["mask"]
        return d

    def counted(v):
        return v["mask"] if mask else np.ones(v["y"].shape, bool)

    def reference(v, up=None):
        # layers.py divides by the number of counted positions; the coursework by N.
        m = counted(v)
        loss, dx = L.temporal_softmax_loss(v["x"], v["y"], m)
        scale = 1.0 if mean else max(int(m.sum()), 1) / v["x"].shape[0]
        return {"loss": np.asarray(loss * scale), "dx": np.array(dx) * scale}

    def naive(v, up=None, k={}):
        m = counted(v)
        count = max(int(m.sum()), 1) if mean else None
        loss, dx = M.softmax_loss(v["x"], v["y"], m, k, divide_by=count)
        return {"loss": np.asarray(loss), "dx": dx}

    unavailable = ({"softmax_divide_NT"} if mean else set()) | (set() if mask else {"softmax_ignores_mask"})
    return Family("temporal_softmax_loss", ("x", "y", "mask") if mask else ("x", "y"), ("loss", "dx"), (),
                  {"x": ("N", "T", "V"), "y": ("N", "T"), "mask": ("N", "T"), "loss": (),
                   "dx": ("N", "T", "V")},
                  make, reference, naive, frozenset(unavailable), self_grads={"dx": ("loss", "x")})
