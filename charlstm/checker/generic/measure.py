"""The measure of check_gradients: the learner's loss and gradients called safely, centred
finite differences of the sampled elements (with a second opinion at h/10), and the error
measure that does not flag round-off on tiny elements of a right gradient."""

from __future__ import annotations

import math
import sysconfig
import traceback
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ...errors import CharlstmError
from .gates import where_block
from .report import Block, LengthResult, ParamResult

SAMPLES = 40            # elements checked per parameter, by default
FLOOR_SCALE = 1e-2      # the error of an element is relative to at least this x the parameter's scale
NOISE = 10.0            # loss round-off ~ NOISE * machine epsilon * max(1, |loss|)
PRECISION = {           # dtype -> (finite-difference step, threshold)
    np.dtype(np.float64): (1e-5, 1e-5),
    np.dtype(np.float32): (1e-2, 3e-2),
}


class GradientCheckError(CharlstmError):
    """The inputs of check_gradients are unusable, or the learner's code raised."""


# =========================================================================== the learner's code

_PACKAGE = str(Path(__file__).resolve().parents[2])     # charlstm/: frames not the learner's
_LIBRARY = (_PACKAGE, str(Path(np.__file__).resolve().parent),
            str(Path(sysconfig.get_paths()["stdlib"]).resolve()))


def _where(exc):
    """' (file.py, line 12, in forward: `h = W @ x`)' for the learner's innermost frame."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(_LIBRARY)]
    if not frames:
        return ""
    f = frames[-1]
    code = f": `{f.line.strip()}`" if f.line else ""
    return f" ({Path(f.filename).name}, line {f.lineno}, in {f.name}{code})"


def raised(what, exc, context):
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return GradientCheckError(f"your {what} raised {type(exc).__name__}"
                              f"{': ' + msg if msg else ''}{_where(exc)}{context}")


def scalar(value, context):
    if isinstance(value, tuple):
        raise GradientCheckError(
            f"your loss returned a tuple of {len(value)} values{context}: it must return the "
            "loss alone, e.g. loss = lambda *seq: my_loss_fun(*seq)[0]")
    try:
        a = np.asarray(value)
    except Exception:
        a = None
    if a is None or a.dtype.kind not in "fiub" or a.size != 1:
        what = (f"an array of shape {a.shape}" if a is not None and a.size != 1
                else f"a {type(value).__name__}")
        raise GradientCheckError(
            f"your loss returned {what}{context}: it must return one number (sum or average "
            "the per-step losses)")
    v = float(a.reshape(()))
    if not math.isfinite(v):
        raise GradientCheckError(
            f"your loss is {v}{context}: a log of 0 (a probability that underflowed)? an exp "
            "that overflowed? Start from small weights (e.g. 0.01 * randn)")
    return v


def gradients_of(got, params, context):
    """{name: float64 gradient}, the shape as given; (extra names returned)."""
    if not isinstance(got, Mapping):
        hint = (" (it returned a list: zip it with the names, "
                "dict(zip(['Wf', 'Wi', ...], your_list)))" if isinstance(got, (list, tuple))
                else "")
        raise GradientCheckError(f"grads must return a dict {{name: gradient}} with the names "
                                 f"of params{hint}; it returned a {type(got).__name__}")
    out, used = {}, set()
    for name, p in params.items():
        key = name if name in got else ("d" + name if "d" + name in got else None)
        if key is None:
            have = ", ".join(map(str, got)) or "nothing"
            raise GradientCheckError(f"grads returned no gradient for {name!r}{context} (it "
                                     f"returned: {have}): use the names of params (or d{name})")
        used.add(key)
        g = got[key]
        try:
            a = np.array(g, dtype=np.float64)          # a copy: buffers the learner reuses stay theirs
        except (TypeError, ValueError):
            raise GradientCheckError(f"the gradient of {name!r} is a {type(g).__name__}, not "
                                     "an array of numbers") from None
        if a.shape != p.shape and not (p.ndim == 2 and a.shape == p.shape[::-1]):
            extra = (" (the same elements in another shape: reshape it, e.g. "
                     f"d{name}.reshape({name}.shape), or sum with keepdims=True)"
                     if a.size == p.size else " (a gradient has the shape of its parameter: "
                     "was it summed over the batch and over time?)")
            raise GradientCheckError(f"the gradient of {name!r} has shape {a.shape}, the "
                                     f"parameter has shape {p.shape}{context}{extra}")
        bad = ~np.isfinite(a)
        if bad.any():
            raise GradientCheckError(f"the gradient of {name!r} contains nan or inf "
                                     f"({int(bad.sum())} of {a.size} elements){context}")
        out[name] = a
    extra = [k for k in got if k not in used]
    return out, extra

# =========================================================================== sampling

def sample(shape, layout, samples, seed):
    """Multi-indices of the elements to check, and the block of each.

    The same offsets are used in every block (and for parameters of the same shape), so
    blocks and parameters can be compared with one another (a swapped gate)."""
    if shape == ():
        return [()], np.zeros(1, int)
    k = len(layout.gates) if layout is not None and layout.how == "axis" else 1
    bshape = list(shape)
    if k > 1:
        bshape[layout.axis] = layout.size
    bn = int(np.prod(bshape))
    m = bn if samples is None else min(bn, max(2, -(-samples // k)))
    if m >= bn:
        offs = np.arange(bn)
    else:
        rng = np.random.default_rng([seed, *shape])
        offs = np.sort(np.concatenate([[0, bn - 1], 1 + rng.choice(bn - 2, m - 2, replace=False)]))
    multi = np.array(np.unravel_index(offs, bshape))          # (ndim, m)
    out, block = [], []
    for j in range(k):
        mj = multi.copy()
        if k > 1:
            mj[layout.axis] += j * layout.size
        out += [tuple(int(v) for v in col) for col in mj.T]
        block += [j] * len(offs)
    return out, np.array(block)


# =========================================================================== the check

class Run:
    def __init__(self, params, loss, grads, sequence, T, samples, seed, layouts):
        self.params, self.loss_fn, self.grads_fn = params, loss, grads
        self.sequence, self.T = sequence, T
        self.samples, self.seed, self.layouts = samples, seed, layouts
        f32 = any(p.dtype == np.float32 for p in params.values())
        self.dtype = np.dtype(np.float32 if f32 else np.float64)
        self.step, self.threshold = PRECISION[self.dtype]
        self.evaluations = 0
        self.extra = []
        self.picks = {n: sample(p.shape, layouts.get(n), samples, seed)
                      for n, p in params.items()}

    def seq(self, L):
        return () if L is None else tuple(s[:L] for s in self.sequence)

    def loss(self, args, context):
        self.evaluations += 1
        try:
            value = self.loss_fn(*args)
        except CharlstmError:
            raise
        except Exception as e:
            raise raised("loss", e, context) from None
        return scalar(value, context)

    def difference(self, p, name, ix, h, args, L0):
        """(L(w + h) - L(w - h)) / (the step actually applied) for element ix of p; and
        whether the loss stayed exactly L0. The element is restored whatever happens."""
        old = p[ix]
        ctx = f" with {name}{list(ix)} changed by {h:.0e}{self.at(self.length)}"
        try:
            p[ix] = old + h
            up = float(p[ix])                   # float32 rounds the step: use the one applied
            lp = self.loss(args, ctx)
            p[ix] = old - h
            down = float(p[ix])
            lm = self.loss(args, ctx)
        finally:
            p[ix] = old
        return (lp - lm) / (up - down), lp == lm == L0

    def at(self, L):
        return f" (sequence length {L})" if L is not None else ""

    def measure(self, L):
        """Every sampled element of every parameter at sequence length L."""
        args, at = self.seq(L), self.at(L)
        self.length = L
        L0 = self.loss(args, f" at the parameters you gave{at}")
        before = {n: p.copy() for n, p in self.params.items()}
        try:
            got = self.grads_fn(*args)
        except CharlstmError:
            raise
        except Exception as e:
            raise raised("grads", e, at) from None
        for n, p in self.params.items():
            if not np.array_equal(p, before[n]):
                raise GradientCheckError(
                    f"your grads changed params[{n!r}]{at}: does your backward also take an "
                    "update step (W -= lr * dW)? Return the gradients without updating, and "
                    "update in the training loop")
        analytic, extra = gradients_of(got, self.params, at)
        self.extra = extra
        L1 = self.loss(args, f" at the parameters you gave{at}")
        if abs(L1 - L0) > 1e3 * np.finfo(self.dtype).eps * max(1.0, abs(L0)):
            raise GradientCheckError(
                f"your loss gave {L0!r}, then {L1!r} for the same parameters{at}: the check "
                "needs the same loss for the same input. Does it keep a state between calls "
                "(a hidden state carried over, dropout, a random draw)?")
        noise = NOISE * np.finfo(self.dtype).eps * max(1.0, abs(L0)) / self.step
        atol = noise / self.threshold
        results = []
        for name, p in self.params.items():
            multi, block = self.picks[name]
            full = analytic[name]
            transposed_shape = full.shape != p.shape
            num = np.empty(len(multi))
            unchanged = True
            for k, ix in enumerate(multi):
                num[k], same = self.difference(p, name, ix, self.step, args, L0)
                unchanged &= same
            ana = (full.T if transposed_shape else full)[tuple(np.array(multi).T)] \
                if multi != [()] else full.reshape(1)
            rel = rel_errors(ana, num, atol)
            if self.dtype == np.float64:
                # A second opinion where an element fails or nearly: centred differences err by
                # h**2 / 6 times the third derivative, which on a steep loss (large weights,
                # long sequences) can pass 1e-5. Richardson's extrapolation from h and h/10
                # removes that term; it does not look at your gradient, so a wrong one stays
                # wrong.
                for k in np.flatnonzero(rel >= self.threshold / 10):
                    n2, _ = self.difference(p, name, multi[k], self.step / 10, args, L0)
                    num[k] = n2 + (n2 - num[k]) / 99
                rel = rel_errors(ana, num, atol)
            lay = self.layouts.get(name)
            blocks = []
            if lay is None:
                blocks.append(Block(None, None, "", np.ones(len(multi), bool)))
            elif lay.how == "name":
                blocks.append(Block(lay.gates[0], lay.canon[0], "", np.ones(len(multi), bool)))
            else:
                for j, (g, c) in enumerate(zip(lay.gates, lay.canon)):
                    blocks.append(Block(g, c, where_block(lay, j, p.ndim), block == j))
            for b in blocks:
                b.max_rel_error = float(np.max(rel[b.mask]))
                b.exercised = bool(np.max(np.abs(num[b.mask])) > noise)
            if transposed_shape:         # wrong as given, whatever its transpose says
                for b in blocks:
                    b.max_rel_error = 1.0
            err = float(np.max(rel))
            results.append(ParamResult(
                name, p.shape, str(p.dtype), len(multi),
                None if transposed_shape else err,
                ok=not transposed_shape and err < self.threshold, blocks=blocks,
                exercised=bool(np.max(np.abs(num)) > noise), unchanged=bool(unchanged),
                grad_shape=full.shape if transposed_shape else None,
                analytic=ana, numeric=num, rel=rel, full=full))
        return LengthResult(L, results, loss=L0)


def rel_errors(a, n, atol):
    """|a - n| / max(|a| + |n|, floor): the floor is FLOOR_SCALE x the parameter's scale, and
    never below atol, what the loss's round-off can explain."""
    floor = max(FLOOR_SCALE * float(np.max(np.abs(a) + np.abs(n))), atol)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


def lengths_to_try(T):
    out, L = [], 1
    while L < T:
        out.append(L)
        L = L + 1 if L < 4 else L * 2
    return out
