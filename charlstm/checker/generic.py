"""Check any hand-written gradient against finite differences, whatever its API.

    report = charlstm.check_gradients(params, loss, grads, sequence=(inputs, targets))
    print(report)                 # a table per parameter, then what is wrong and where
    report.ok, report.to_json()

params    {name: array}: the learner's OWN float arrays (the ones their code reads). The
          check changes them in place, one element at a time, and restores them exactly
          afterwards, even when the learner's code raises.
loss      loss(*sequence) -> the scalar loss at the current values of those arrays.
grads     grads(*sequence) -> {name: gradient}, the same names (a leading "d", as in
          "dWf", is accepted too).
sequence  optional tuple of equal-length sequences (e.g. (inputs, targets)), passed to
          both. When a gradient is wrong, the check shortens them (prefixes of length
          1, 2, 3, ...) to find the shortest length at which some gradient is wrong.

How it measures, and why (docs/check-gradients.md has the measurements):

- Each sampled element k of a gradient is compared with a centred difference of the loss,
  n_k = (L(w + h) - L(w - h)) / (the step actually applied), h = 1e-5, in float64 from
  the values the learner's loss returns. Where an element fails or nearly (error above a
  tenth of the threshold), it is measured again with h/10 and Richardson's extrapolation,
  which removes the h**2 error that a steep loss (large weights, long sequences) shows.
- Error of element k: |a_k - n_k| / max(|a_k| + |n_k|, floor). The floor is FLOOR_SCALE
  (1e-2) times the largest |a| + |n| of that parameter, and never below what round-off in
  the loss can explain. Element by element alone, a right gradient's tiny elements show
  round-off as errors up to 6e-2 (measured); against the parameter's scale they do not,
  and an element can only hide a mistake smaller than 1e-7 of that scale.
- A parameter passes when its largest error is below the threshold, 1e-5 in float64:
  right gradients measured at most 9.5e-7 (scripts/gradient_threshold.py: 126 checks of
  four learner-style implementations, up to H = 50 over 25 steps with weights of 1.5), the
  subtlest mistake 4.5e-5 (1 - c**2 for 1 - tanh(c)**2 with weights of 0.1), the classic
  ones 4e-2 to 1.
- Cost: a seeded random sample of SAMPLES (40) elements per parameter, spread evenly over
  its gate blocks, the first and last element of each block always included (an
  off-by-one slice shows there); ``samples=None`` checks every element.
- float32 arrays: the check perturbs the learner's own arrays, so their code runs as it
  is, in float32 (a float64 copy would not be the array their code reads, and casting
  theirs in place is impossible). The step is then 1e-2 and the threshold 3e-2: right
  float32 gradients measured up to 8e-3, so an error below a few percent cannot be seen.
  The report says so; for a sharp check, convert the arrays to float64.

The report localises what is wrong: per parameter; per gate block when the names (Wi, Wf,
Wo, Wg / Wc, ...) or a fused 4H (3H for a GRU) axis say which part is which gate; by
sequence length; and a gradient off by a constant factor, transposed, swapped with
another one, clipped or zero, said as such.

This runs the learner's code: use it on code you wrote or trust.
"""

from __future__ import annotations

import html
import json
import math
import re
import sysconfig
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CharlstmError

SAMPLES = 40            # elements checked per parameter, by default
FLOOR_SCALE = 1e-2      # the error of an element is relative to at least this x the parameter's scale
NOISE = 10.0            # loss round-off ~ NOISE * machine epsilon * max(1, |loss|)
PRECISION = {           # dtype -> (finite-difference step, threshold)
    np.dtype(np.float64): (1e-5, 1e-5),
    np.dtype(np.float32): (1e-2, 3e-2),
}
LSTM_ORDER, GRU_ORDER = "ifog", "rzn"   # how a fused 4H / 3H axis is read unless told

_EQUATION = {
    "i": "da_i = dc * g * i * (1 - i)",
    "f": "da_f = dc * c_prev * f * (1 - f)   (c_prev: the cell state of the step before)",
    "o": "da_o = dh * tanh(c) * o * (1 - o)   (dh: the whole gradient reaching h_t)",
    "g": "da_g = dc * i * (1 - g**2)   (g = tanh(a_g), so tanh' = 1 - g**2)",
}
_DC = "dc = dh * o * (1 - tanh(c)**2) + dc_next"


class GradientCheckError(CharlstmError):
    """The inputs of check_gradients are unusable, or the learner's code raised."""


# =========================================================================== the report

@dataclass
class Block:
    """The part of a parameter that belongs to one gate (the whole parameter when it has no gates)."""
    gate: str | None        # the letter the learner uses: i f o g c r z n (None: no gates)
    canon: str | None       # c -> g for an LSTM, h/c/g -> n for a GRU
    where: str              # "" or "columns 0:5"
    mask: np.ndarray        # which of the parameter's sampled elements lie in this block
    max_rel_error: float = 0.0
    exercised: bool = True

    def ok(self, threshold):
        return bool(self.max_rel_error < threshold)


@dataclass
class ParamResult:
    """One parameter at one sequence length."""
    name: str
    shape: tuple
    dtype: str
    checked: int                    # how many elements were compared
    max_rel_error: float | None     # None when the gradient's shape is the transpose
    ok: bool
    blocks: list = field(default_factory=list)
    exercised: bool = True          # the loss depends on it (numeric gradient above noise)
    unchanged: bool = False         # no perturbation changed the loss at all
    grad_shape: tuple | None = None
    analytic: np.ndarray = None     # at the sampled elements, float64
    numeric: np.ndarray = None
    rel: np.ndarray = None          # the error of every sampled element
    full: np.ndarray = None         # the whole analytic gradient, float64

    def to_dict(self, threshold):
        d = {"name": self.name, "ok": self.ok, "max_rel_error": self.max_rel_error,
             "shape": list(self.shape), "checked": self.checked}
        gates = {b.gate: b.ok(threshold) for b in self.blocks if b.gate is not None}
        if gates:
            d["gates"] = gates
        if self.grad_shape is not None:
            d["gradient_shape"] = list(self.grad_shape)
        return d


@dataclass
class LengthResult:
    length: int | None              # None without a sequence
    params: list = None             # ParamResult per parameter (None if the code raised)
    error: str = ""                 # the learner's code raised at this length
    loss: float = 0.0

    @property
    def ok(self):
        return not self.error and all(p.ok for p in self.params)

    def failing(self):
        return [p.name for p in self.params or [] if not p.ok]


@dataclass
class GradientReport:
    """What ``check_gradients`` found. ``str(report)`` is the text, ``report.ok`` a bool."""
    ok: bool
    shortest_failing_length: int | None
    length: int | None              # the length the table describes
    parameters: list                # ParamResult at that length
    lengths: list                   # LengthResult of every length checked, ascending
    findings: list                  # paragraphs: what is wrong, where, why, what to look at
    notes: list                     # how the check ran (precision, sampling, gates read)
    threshold: float
    step: float
    samples: int | None
    seed: int
    evaluations: int = 0

    def to_dict(self):
        return {"ok": self.ok, "shortest_failing_length": self.shortest_failing_length,
                "parameters": [p.to_dict(self.threshold) for p in self.parameters],
                "length": self.length, "threshold": self.threshold,
                "lengths_checked": [{"length": r.length, "ok": r.ok} for r in self.lengths],
                "findings": list(self.findings)}

    def to_json(self):
        """The report as a JSON string: ok, shortest_failing_length, parameters, and more."""
        return json.dumps(self.to_dict(), indent=1)

    def _result(self, p):
        """'pass', 'FAIL (shape 4x5)', 'FAIL  gates wrong: g i; right: f o', ..."""
        res = "pass" if p.ok else "FAIL"
        if p.ok and not p.exercised:
            res += " (its gradient is 0 here: untested)"
        if p.grad_shape is not None:
            res += f" (shape {'x'.join(map(str, p.grad_shape))})"
        gated = [b for b in p.blocks if b.gate is not None]
        wrong = [b.gate for b in gated if not b.ok(self.threshold)]
        right = [b.gate for b in gated if b.ok(self.threshold)]
        if len(gated) > 1 and wrong:
            res += f"  gates wrong: {' '.join(wrong)}" + (f"; right: {' '.join(right)}"
                                                          if right else "")
        return res

    def _table(self):
        rows = [f"  {'parameter':<12} {'shape':<10} {'checked':>7} {'max rel error':>14}  result"]
        for p in self.parameters:
            shape = "x".join(map(str, p.shape)) or "scalar"
            err = "-" if p.max_rel_error is None else f"{p.max_rel_error:.1e}"
            rows.append(f"  {p.name:<12} {shape:<10} {p.checked:>7} {err:>14}  {self._result(p)}")
        return rows

    def text(self):
        lines = [f"check_gradients: {len(self.parameters)} parameters, "
                 + (f"up to {self.samples} sampled elements each (seed {self.seed})"
                    if self.samples else "every element") + f", {self.evaluations} loss evaluations",
                 f"centred differences in float64, step {self.step:g}; max relative error "
                 f"per parameter, pass below {self.threshold:.0e}", ""]
        if len(self.lengths) > 1 or self.length is not None:
            lines.append("  length  result")
            for r in self.lengths:
                res = "pass" if r.ok else (
                    "your code raised" if r.error else "FAIL: " + ", ".join(r.failing()))
                mark = ("   <- shortest failing length" if r.length == self.shortest_failing_length
                        and not r.error else "")
                lines.append(f"  {r.length:<7} {res}{mark}")
            lines.append("")
            lines.append(f"At length {self.length}:" if self.length is not None else "")
        lines += self._table()
        lines.append("")
        for f in self.findings:
            lines += [f, ""]
        for n in self.notes:
            lines += [f"note: {n}"]
        if self.notes:
            lines.append("")
        if self.ok:
            lines.append("-> PASS: every gradient matches finite differences of your loss.")
        else:
            at = (f" (wrong from length {self.shortest_failing_length} on)"
                  if self.shortest_failing_length is not None else "")
            lines.append(f"-> FAIL{at}")
        return "\n".join(ln for ln in lines if ln is not None).replace("\n\n\n", "\n\n")

    __str__ = text

    def __repr__(self):
        wrong = [p.name for p in self.parameters if not p.ok]
        return (f"<GradientReport ok={self.ok} shortest_failing_length="
                f"{self.shortest_failing_length} wrong={wrong}>")

    def _repr_html_(self):
        esc = html.escape
        head = ("<tr><th>parameter</th><th>shape</th><th>checked</th>"
                "<th>max rel. error</th><th>result</th></tr>")
        rows = []
        for p in self.parameters:
            err = "-" if p.max_rel_error is None else f"{p.max_rel_error:.1e}"
            status = self._result(p)
            color = "green" if p.ok else "crimson"
            rows.append(f"<tr><td><code>{esc(p.name)}</code></td>"
                        f"<td>{'x'.join(map(str, p.shape)) or 'scalar'}</td><td>{p.checked}</td>"
                        f"<td>{err}</td><td style='color:{color}'>{esc(status)}</td></tr>")
        lengths = ""
        if self.length is not None:
            lengths = "<p>lengths checked: " + ", ".join(
                f"{r.length} {'pass' if r.ok else 'FAIL'}" for r in self.lengths) + "</p>"
        verdict = ("PASS" if self.ok else "FAIL" + (
            f" (wrong from length {self.shortest_failing_length} on)"
            if self.shortest_failing_length is not None else ""))
        return (f"<p><b>check_gradients</b>: pass below {self.threshold:.0e}"
                + (f", at length {self.length}" if self.length is not None else "") + "</p>"
                + lengths + "<table>" + head + "".join(rows) + "</table>"
                + "".join(f"<p>{esc(f)}</p>" for f in self.findings)
                + "".join(f"<p><i>note: {esc(n)}</i></p>" for n in self.notes)
                + f"<p><b>{verdict}</b></p>")


# =========================================================================== the learner's code

_PACKAGE = str(Path(__file__).resolve().parent.parent)     # charlstm/: frames not the learner's
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


def _raised(what, exc, context):
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return GradientCheckError(f"your {what} raised {type(exc).__name__}"
                              f"{': ' + msg if msg else ''}{_where(exc)}{context}")


# =========================================================================== inputs

def _check_params(params):
    if not isinstance(params, Mapping) or not params:
        raise GradientCheckError(
            "params must be a non-empty dict {name: array} of the arrays your loss reads, "
            "e.g. {'Wf': model.Wf, 'bf': model.bf}")
    for name, p in params.items():
        if not isinstance(name, str):
            raise GradientCheckError(f"params has the key {name!r}: use strings, e.g. 'Wf'")
        if not isinstance(p, np.ndarray):
            raise GradientCheckError(
                f"params[{name!r}] is a {type(p).__name__}, not a NumPy array: the check "
                "changes your arrays in place, so give the very array your code reads")
        if p.dtype == np.float16:
            raise GradientCheckError(
                f"params[{name!r}] is float16: too coarse for finite differences (3 "
                "significant digits); convert your arrays to float64 (or float32)")
        if p.dtype not in PRECISION:
            raise GradientCheckError(
                f"params[{name!r}] has dtype {p.dtype}: a gradient check needs float arrays "
                "(float64, or float32); an integer array cannot be changed by a small step")
        if not p.flags.writeable:
            raise GradientCheckError(f"params[{name!r}] is read-only: the check must change "
                                     "it in place (and restores it)")
        if p.size == 0:
            raise GradientCheckError(f"params[{name!r}] is empty (shape {p.shape})")
        if not np.all(np.isfinite(p)):
            raise GradientCheckError(f"params[{name!r}] contains nan or inf before the check: "
                                     "initialise it with finite values")


def _check_sequence(sequence):
    if sequence is None:
        return None
    if not isinstance(sequence, tuple):
        raise GradientCheckError(
            "sequence must be a tuple of sequences passed to loss and grads, e.g. "
            "(inputs, targets); for one sequence write (inputs,)")
    if not sequence:
        raise GradientCheckError("sequence is an empty tuple: give e.g. (inputs, targets), or "
                                 "leave it out")
    lens = []
    for k, s in enumerate(sequence):
        try:
            lens.append(len(s))
        except TypeError:
            raise GradientCheckError(f"sequence[{k}] is a {type(s).__name__}, which has no "
                                     "length: each item must be a list, string or array "
                                     "whose first axis is time") from None
    if len(set(lens)) > 1:
        raise GradientCheckError(f"the sequences have different lengths {lens}: the check "
                                 "shortens them together, so they must be equally long "
                                 "(time on the first axis)")
    if lens[0] == 0:
        raise GradientCheckError("the sequences are empty: give at least one step")
    return lens[0]


def _scalar(value, context):
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


def _gradients(got, params, context):
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


# =========================================================================== gates

@dataclass
class _Layout:
    gates: list             # letters, one per block
    canon: list
    axis: int | None = None
    size: int | None = None  # H: the length of one block along the axis
    how: str = "name"        # "name" | "axis"


def _canon(letter, kind):
    if kind == "lstm":
        return "g" if letter == "c" else letter
    return "n" if letter in "hcg" else letter


_NAME = re.compile(r"^(?P<pre>.+?)_?(?P<gate>[ifogczrnh])$")


def _named_gates(names):
    """{name: (letter, kind)} for parameters whose names say which gate they belong to."""
    groups = {}
    for n in names:
        m = _NAME.match(n)
        if m:
            groups.setdefault(m["pre"], []).append((n, m["gate"]))
    out = {}
    for pre, members in groups.items():
        letters = [g for _, g in members]
        if len(set(letters)) != len(letters):
            continue
        lstm = set(letters) <= set("ifogc") and not {"g", "c"} <= set(letters)
        if lstm and len({_canon(g, "lstm") for g in letters}) >= 3:
            out.update({n: (g, "lstm") for n, g in members})
        elif {"z", "r"} <= set(letters) and set(letters) <= set("zrnhcg") and len(letters) == 3:
            out.update({n: (g, "gru") for n, g in members})
    return out


def _fused_gates(params, skip, order):
    """{name: _Layout} for parameters with an axis of k*H, k = len(order) (4 or 3)."""
    orders = [order] if order else [LSTM_ORDER, GRU_ORDER]
    for order in orders:
        k = len(order)
        # H from the recurrent matrix: (H, kH) or (kH, H), all of them one way round.
        sides = {}
        for name, p in params.items():
            if name in skip or p.ndim != 2:
                continue
            a, b = p.shape
            if b == k * a:
                sides.setdefault(a, set()).add(1)
            elif a == k * b:
                sides.setdefault(b, set()).add(0)
        # Several candidates (an input (N, D) with D = k * N, say): the H whose k*H axis
        # the most parameters share; a tie reads no gates.
        best = sorted(((sum(k * H in p.shape for n, p in params.items() if n not in skip), H,
                        next(iter(axes))) for H, axes in sides.items()
                       if len(axes) == 1 and H >= 2), reverse=True)
        if not best or (len(best) > 1 and best[0][0] == best[1][0]):
            continue
        _, H, gate_axis = best[0]
        out = {}
        for name, p in params.items():
            if name in skip:
                continue
            hits = [ax for ax, n in enumerate(p.shape) if n == k * H]
            if len(hits) > 1 and p.ndim == 2:
                hits = [gate_axis]
            if len(hits) == 1:
                kind = "lstm" if k == 4 else "gru"
                out[name] = _Layout(list(order), [_canon(g, kind) for g in order],
                                    axis=hits[0], size=H, how="axis")
        if out:
            return out, order, H
    return {}, None, None


def _layouts(params, gate_order):
    if gate_order == "":
        return {}, ""
    named = _named_gates(params)
    layouts = {n: _Layout([g], [_canon(g, kind)]) for n, (g, kind) in named.items()}
    fused, order, H = _fused_gates(params, set(named), gate_order)
    layouts.update(fused)
    note = ""
    if fused and not gate_order:
        axes = _names(fused)
        note = (f"read the axis of length {len(order) * H} of {axes} as {len(order)} gate blocks "
                f"in the order {', '.join(order)} (H = {H}); pass gate_order='fgio' (or your "
                "order) if yours differs, or gate_order='' if these are not gates")
    return layouts, note


def _check_order(gate_order):
    if gate_order is None or gate_order == "":
        return gate_order
    if not isinstance(gate_order, str):
        raise GradientCheckError("gate_order is a string of gate letters, e.g. 'ifog' "
                                 "(charlstm, cs231n), 'ifgo' (PyTorch), 'fgio' (Deep Learning "
                                 "from Scratch 2), or '' for no gates")
    s = gate_order
    if not (sorted(s.replace("c", "g")) == sorted("ifog") or sorted(s.replace("h", "n")) ==
            sorted("rzn")):
        raise GradientCheckError(f"gate_order={s!r}: give the 4 LSTM gates i, f, o, g (or c) "
                                 "in the order of your fused axis, e.g. 'ifog', or the 3 GRU "
                                 "gates r, z, n, e.g. 'rzn'")
    return s


# =========================================================================== sampling

def _sample(shape, layout, samples, seed):
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


def _where_block(layout, j, ndim):
    lo, hi = j * layout.size, (j + 1) * layout.size
    axis = "elements" if ndim == 1 else ("rows" if layout.axis == 0 else "columns")
    H = layout.size
    span = lambda v: "0" if v == 0 else ("H" if v == H else f"{v // H}H")
    return f"{axis} {span(lo)}:{span(hi)}"


# =========================================================================== the check

class _Run:
    def __init__(self, params, loss, grads, sequence, T, samples, seed, layouts):
        self.params, self.loss_fn, self.grads_fn = params, loss, grads
        self.sequence, self.T = sequence, T
        self.samples, self.seed, self.layouts = samples, seed, layouts
        f32 = any(p.dtype == np.float32 for p in params.values())
        self.dtype = np.dtype(np.float32 if f32 else np.float64)
        self.step, self.threshold = PRECISION[self.dtype]
        self.evaluations = 0
        self.extra = []
        self.picks = {n: _sample(p.shape, layouts.get(n), samples, seed)
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
            raise _raised("loss", e, context) from None
        return _scalar(value, context)

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
            raise _raised("grads", e, at) from None
        for n, p in self.params.items():
            if not np.array_equal(p, before[n]):
                raise GradientCheckError(
                    f"your grads changed params[{n!r}]{at}: does your backward also take an "
                    "update step (W -= lr * dW)? Return the gradients without updating, and "
                    "update in the training loop")
        analytic, extra = _gradients(got, self.params, at)
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
            rel = _rel(ana, num, atol)
            if self.dtype == np.float64:
                # A second opinion where an element fails or nearly: centred differences err by
                # h**2 / 6 times the third derivative, which on a steep loss (large weights,
                # long sequences) can pass 1e-5. Richardson's extrapolation from h and h/10
                # removes that term; it does not look at your gradient, so a wrong one stays
                # wrong.
                for k in np.flatnonzero(rel >= self.threshold / 10):
                    n2, _ = self.difference(p, name, multi[k], self.step / 10, args, L0)
                    num[k] = n2 + (n2 - num[k]) / 99
                rel = _rel(ana, num, atol)
            lay = self.layouts.get(name)
            blocks = []
            if lay is None:
                blocks.append(Block(None, None, "", np.ones(len(multi), bool)))
            elif lay.how == "name":
                blocks.append(Block(lay.gates[0], lay.canon[0], "", np.ones(len(multi), bool)))
            else:
                for j, (g, c) in enumerate(zip(lay.gates, lay.canon)):
                    blocks.append(Block(g, c, _where_block(lay, j, p.ndim), block == j))
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


def _rel(a, n, atol):
    """|a - n| / max(|a| + |n|, floor): the floor is FLOOR_SCALE x the parameter's scale, and
    never below atol, what the loss's round-off can explain."""
    floor = max(FLOOR_SCALE * float(np.max(np.abs(a) + np.abs(n))), atol)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


def _lengths_to_try(T):
    out, L = [], 1
    while L < T:
        out.append(L)
        L = L + 1 if L < 4 else L * 2
    return out


def check_gradients(params, loss, grads, sequence=None, *, samples=SAMPLES, seed=0,
                    gate_order=None):
    """Check a hand-written gradient against centred finite differences; returns a report.

    params: {name: array}, your own float arrays (changed in place, restored exactly after).
    loss: loss(*sequence) -> the scalar loss at the current values of those arrays.
    grads: grads(*sequence) -> {name: gradient} (names as in params, or with a leading "d").
    sequence: optional tuple of equal-length sequences with time first, e.g.
        (inputs, targets), passed to loss and grads; when a gradient is wrong the check
        shortens them to find the shortest length at which it is wrong.
    samples: elements checked per parameter (seeded random, spread over its gate blocks,
        first and last of each included); None checks every element.
    seed: the seed of that sample.
    gate_order: how a fused gate axis (4H: LSTM, 3H: GRU) is read; None reads 4H as
        'ifog' and 3H as 'rzn'; e.g. 'fgio' for Deep Learning from Scratch 2, 'ifgo' for
        PyTorch; '' for no gate analysis. Gates named in the parameter names (Wi, Wf, ...)
        are always recognised.

    Returns a GradientReport: print it, or read .ok, .shortest_failing_length,
    .parameters, .findings, .to_json(). Bad input, or an exception in your code, raises a
    CharlstmError whose one-line message names the parameter (and your line of code).
    """
    try:
        return _check_gradients(params, loss, grads, sequence, samples, seed, gate_order)
    except GradientCheckError as e:         # one line, without charlstm's frames
        raise GradientCheckError(str(e)) from None


def _check_gradients(params, loss, grads, sequence, samples, seed, gate_order):
    _check_params(params)
    T = _check_sequence(sequence)
    if not callable(loss) or not callable(grads):
        raise GradientCheckError("loss and grads must be functions: loss(*sequence) -> a "
                                 "number, grads(*sequence) -> {name: gradient}")
    if samples is not None and (not isinstance(samples, (int, np.integer)) or samples < 1):
        raise GradientCheckError(f"samples={samples!r}: give a positive number of elements "
                                 "per parameter, or None for all of them")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GradientCheckError(f"seed={seed!r}: give a non-negative integer")
    gate_order = _check_order(gate_order)
    layouts, gate_note = _layouts(params, gate_order)
    run = _Run(params, loss, grads, sequence, T, samples, seed, layouts)
    original = {n: p.copy() for n, p in params.items()}
    try:
        full = run.measure(T)
        _no_effect(full)
        results = {T: full}
        if not full.ok and T is not None and T > 1:
            results.update(_shortest(run, full))
    finally:
        for n, p in params.items():
            np.copyto(p, original[n])
    lengths = [results[k] for k in sorted(results, key=lambda v: -1 if v is None else v)]
    failing = [r for r in lengths if not r.ok and not r.error]
    first = failing[0] if failing else full
    shortest = first.length if failing else None
    if T is None and failing:
        shortest = None
    findings = _diagnose(run, first, lengths, T)
    notes = _notes(run, gate_note, first)
    return GradientReport(
        ok=full.ok, shortest_failing_length=shortest, length=first.length,
        parameters=first.params, lengths=lengths if T is not None else [],
        findings=findings, notes=notes, threshold=run.threshold, step=run.step,
        samples=samples, seed=seed, evaluations=run.evaluations)


def _shortest(run, full):
    """Check prefixes: 1, 2, 3, 4, 8, 16, ... then bisect; {length: LengthResult}."""
    out, lo = {}, 0
    hi = full.length
    for L in _lengths_to_try(full.length):
        r = _try(run, L)
        out[L] = r
        if r.error:
            continue
        if not r.ok:
            hi = L
            break
        lo = L
    while hi - lo > 1:
        mid = (lo + hi) // 2
        r = _try(run, mid)
        out[mid] = r
        if r.error or r.ok:
            lo = mid
        else:
            hi = mid
    return out


def _try(run, L):
    try:
        return run.measure(L)
    except GradientCheckError as e:
        return LengthResult(L, [], error=str(e))


def _no_effect(full):
    """Raise when no parameter changes the loss at all: params are copies, not the arrays read."""
    if full.params and all(p.unchanged for p in full.params):
        raise GradientCheckError(
            "changing the arrays in params never changed your loss: params must hold the very "
            "arrays your loss reads (model.W, not model.W.copy(), np.array(model.W) or "
            "model.W.astype(...), which make copies)")


# =========================================================================== diagnosis

def _names(items):
    items = list(items)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def _plural(names, one, many):
    return one if len(names) == 1 else many


def _factor(a, n, close):
    """c when a = c * n (to the check's tolerance) for a constant c != 1, else None."""
    nn = float(n @ n)
    if nn == 0:
        return None
    c = float(a @ n) / nn
    if abs(c - 1) < 1e-3 or c == 0:
        return None
    return c if close(a, c * n) else None


def _integer(r):
    """k when r is (to 1e-3) the integer k >= 2 or 1/k, else None."""
    k = round(r) if r > 1 else round(1 / r)
    return k if k >= 2 and abs((r if r > 1 else 1 / r) - k) < 1e-3 * k else None


def _factor_words(c):
    r, sign = abs(c), ("minus " if c < 0 else "")
    if abs(r - 1) < 1e-3:
        return "minus the right gradient: the sign is flipped"
    k = _integer(r)
    if k is None:
        return f"{c:.4g} times the right gradient (a constant factor)"
    return f"{sign}{k} times the right gradient" if r > 1 else f"{sign}1/{k} of the right gradient"


def _factor_hint(c, L, everyone):
    r = abs(c)
    if abs(r - 1) < 1e-3:
        return (" A - where a + belongs, or -= where += belongs (for the softmax cross-entropy "
                "the gradient with respect to the scores is p - one_hot(y), not y - p).")
    k = _integer(r)
    if L is not None and k == L and L > 1:
        return (f" {k} is the sequence length: your loss {'sums' if r < 1 else 'averages'} over "
                f"the steps and your gradient {'averages' if r < 1 else 'is of the sum'} (or the loss you "
                "gave is not the one your gradient is of; e.g. WildML's calculate_loss divides "
                "by the number of words, its bptt does not).")
    if everyone:
        return (" The loss and the gradients disagree by a constant: the loss you gave is "
                "scaled differently (a mean where the gradient is of a sum, or the reverse).")
    if k == 2 and r > 1:
        return (" A factor 2: a term added twice (two += for the same path), or the derivative "
                "of x**2 where the loss has no square.")
    return " A constant factor: a division (by N, T or the batch size) on one side only."


def _diagnose(run, first, lengths, T):
    """The findings, in words: by length, per gradient, per gate, what is left."""
    thr = run.threshold
    if first.ok:
        return []
    params = first.params
    wrong = [p for p in params if not p.ok]
    L = first.length
    noise = NOISE * np.finfo(run.dtype).eps * max(1.0, abs(first.loss)) / run.step

    def close(a, b):            # equal to the check's tolerance
        return a.size == 0 or bool(np.max(_rel(a, b, noise / thr)) < thr)

    kinds = {}          # kind -> [(name, detail)]
    for p in wrong:
        kind, detail = _what_happened(run, p, close, first)
        if kind:
            kinds.setdefault(kind, []).append((p.name, detail))
    factors = kinds.get("factor", [])
    by_length = (L is not None and L > 1 and len(factors) == len(wrong)
                 and all(_integer(abs(c)) == L for _, c in factors))
    if by_length:       # off by the length itself: length 1 passed because 1/1 = 1
        out = [f"Right at length 1 and off by a factor of {L} at length {L}: the factor is "
               "the sequence length, which is 1 at length 1, so this is no carry mistake: "
               "the loss and the gradient disagree on summing or averaging over the steps."]
    else:
        out = _length_finding(run, first, lengths, wrong) if T is not None else []
    out += _say(kinds, params, L)
    block_swaps = _block_swaps(run, first, wrong, close,
                               skip={n for k in kinds.values() for n, _ in k})
    out += [text for _, text in block_swaps if text]
    transformed = {n for k in ("transposed", "transposed_wrong", "factor", "swapped", "clipped")
                   for n, _ in kinds.get(k, [])} | {n for n, _ in block_swaps}
    gate_text = _gate_findings(first, lengths, thr, transformed)
    out += gate_text
    explained = {n for k in kinds.values() for n, _ in k} | transformed
    rest = [p.name for p in wrong if p.name not in explained
            and not (gate_text and any(b.gate is not None for b in p.blocks))]
    right = [p.name for p in params if p.ok and p.exercised]
    if rest and (gate_text or block_swaps):
        msg = (f"Wrong too: {_names(rest)}; in most code {_plural(rest, 'it is', 'they are')} "
               "computed from the gate gradients (da @ W.T), so fix the gates first")
        out.append(msg + (f". Right: {_names(right)}." if right else "."))
    elif rest:
        msg = f"Wrong: {_names(rest)}"
        if right:
            msg += f". Right: {_names(right)}. Look at the lines that compute only the wrong ones"
        else:
            msg += (". Every gradient is wrong: look first at what they all share (the gradient "
                    "of the loss with respect to the output scores, p - one_hot(y))")
        out.append(msg + ".")
    return out


def _what_happened(run, p, close, first):
    """(kind, detail) for a wrong gradient that is a simple transformation of the right one."""
    a, n = p.analytic, p.numeric
    if p.grad_shape is not None or (len(p.shape) == 2 and p.shape[0] == p.shape[1]):
        multi = run.picks[p.name][0]
        t = p.full.T
        if t.shape == p.shape and close(t[tuple(np.array(multi).T)], n):
            return "transposed", p.grad_shape
        if p.grad_shape is not None:
            return "transposed_wrong", p.grad_shape
    if p.exercised and not np.any(a):
        return "zero", float(np.max(np.abs(n)))
    if not p.exercised:
        return "should_be_zero", float(np.max(np.abs(a)))
    c = _factor(a, n, close)
    if c is not None:
        return "factor", c
    bad = p.rel >= run.threshold
    m = float(np.max(np.abs(a)))
    if m > 0 and np.all(np.abs(a[bad]) == m) and np.all(np.abs(n[bad]) > m):
        return "clipped", m
    for q in first.params:
        if q is not p and q.shape == p.shape and q.exercised and close(a, q.numeric):
            return "swapped", q.name
    return None, None


def _say(kinds, params, L):
    out = []
    shape = lambda s: "x".join(map(str, s))
    at = f" at length {L}" if L is not None else ""
    if "transposed" in kinds:
        items = kinds["transposed"]
        names = [n for n, _ in items]
        why = "; ".join(f"{n}: shape {shape(g)}, the parameter {shape(_shape(params, n))}"
                        if g is not None else f"{n} is square, so its shape could not tell"
                        for n, g in items)
        out.append(f"{_names(names)}: your gradient{_plural(names, ' is the transpose', 's are the transposes')} "
                   f"of the right one{_plural(names, '', 's')} ({why}). A weight's gradient is an "
                   "outer product in the order of the forward: for y = W @ x it is dy @ x.T, "
                   "for y = x @ W it is x.T @ dy; either way it has the shape of W.")
    for n, g in kinds.get("transposed_wrong", []):
        out.append(f"{n}: your gradient has shape {shape(g)}, the transpose of the parameter's "
                   f"{shape(_shape(params, n))}, and is wrong even transposed.")
    if "zero" in kinds:
        names = [n for n, _ in kinds["zero"]]
        out.append(f"{_names(names)}: your gradient{_plural(names, ' is', 's are')} zero wherever "
                   f"the check looked, but the loss depends on {_plural(names, 'it', 'them')}{at}: "
                   "never filled in? (initialised with zeros and never added to, computed but "
                   "not returned, += on a copy, or = where += belongs, which keeps one step's "
                   "term: at the first step a recurrent weight's term is zero.)")
    if "should_be_zero" in kinds:
        names = [n for n, _ in kinds["should_be_zero"]]
        out.append(f"{_names(names)}: changing {_plural(names, 'it', 'them')} does not change the "
                   f"loss{at}, so {_plural(names, 'its gradient', 'their gradients')} must be 0; "
                   f"yours {_plural(names, 'is', 'are')} not (largest "
                   + ", ".join(f"|d{n}| {v:.1e}" for n, v in kinds["should_be_zero"]) + "). "
                   "Either a term is added that does not belong (e.g. the current state where "
                   "the previous one belongs: at the first step the previous state is zero), or "
                   f"params holds {_plural(names, 'a copy', 'copies')}, not the array{_plural(names, '', 's')} "
                   "your loss reads.")
    factors = {}
    for n, c in kinds.get("factor", []):
        factors.setdefault(_factor_words(c), []).append((n, c))
    for words, items in factors.items():
        names = [n for n, _ in items]
        everyone = len(names) == len(params)
        who = ("Every gradient is" if everyone else
               f"{_names(names)}: your gradient{_plural(names, ' is', 's are each')}")
        out.append(f"{who} {words}.{_factor_hint(items[0][1], L, everyone)}")
    clips = {}
    for n, m in kinds.get("clipped", []):
        clips.setdefault(m, []).append(n)
    for m, names in clips.items():
        out.append(f"{_names(names)}: your gradient{_plural(names, ' is', 's are')} clipped at "
                   f"+-{m:g}: every wrong element equals +-{m:g} where the true gradient is larger. "
                   "Check the gradient before clipping (clip in the training step, not in the "
                   "function you check), or use smaller weights or a shorter sequence.")
    swapped = dict(kinds.get("swapped", []))
    done = set()
    for n, q in swapped.items():
        if n in done:
            continue
        if swapped.get(q) == n:
            out.append(f"{n} and {q}: your gradients of these two are swapped (what you return "
                       f"as {n} is the gradient of {q}, and the other way round): the order of your "
                       "returned gradients does not match the names (the list you zip with the "
                       "names, or your return statement).")
            done |= {n, q}
        else:
            out.append(f"{n}: what you return as its gradient is the gradient of {q}: the order "
                       "of your returned gradients does not match the names.")
            done.add(n)
    return out


def _shape(params, name):
    return next(p.shape for p in params if p.name == name)


def _block_swaps(run, first, wrong, close, skip):
    """[(name, text)] for fused parameters whose gate blocks hold each other's gradients."""
    out = []
    for p in wrong:
        blocks = [b for b in p.blocks if b.gate is not None]
        if p.name in skip or len(blocks) < 2:
            continue
        swapped = []
        for b in blocks:
            if b.ok(run.threshold):
                continue
            for o in blocks:
                if o is not b and o.exercised and close(p.analytic[b.mask], p.numeric[o.mask]):
                    swapped.append((b, o))
                    break
        if swapped:
            pairs = "; ".join(f"the block of gate {b.gate} ({b.where.split()[-1]}) holds gate "
                              f"{o.gate}'s" for b, o in swapped)
            out.append((p.name, pairs))
    merged = {}
    for name, pairs in out:
        merged.setdefault(pairs, []).append(name)
    out = [(name, f"In {_names(names)}, {pairs}: your backward writes the gates in another "
                  "order than your forward reads them (the slices of the fused axis must be "
                  "the same in both).")
           for pairs, names in merged.items() for name in names[:1]]
    out += [(name, "") for pairs, names in merged.items() for name in names[1:]]
    return out


def _gate_status(first, lengths, thr, skip):
    """{canonical gate: 'right' | 'wrong' | 'untested'}, the letters used, the kind.

    A block passes but is 'untested' when its gradient is zero here, or (at length 2) was
    zero at length 1: then the first step, the one a carry reaches, adds nothing to it
    (it multiplies a zero initial state)."""
    one = next((r for r in lengths if r.length == 1 and r.params), None)
    before = {p.name: p for p in one.params} if one is not None and first.length == 2 else {}
    status, letters, kind = {}, {}, None
    for p in first.params:
        if p.name in skip:
            continue
        for j, b in enumerate(p.blocks):
            if b.canon is None:
                continue
            kind = "lstm" if b.canon in "ifog" else "gru"
            letters[b.canon] = b.gate
            untested = not b.exercised or (p.name in before
                                           and not before[p.name].blocks[j].exercised)
            s = "wrong" if not b.ok(thr) else ("untested" if untested else "right")
            old = status.get(b.canon)
            rank = {"wrong": 2, "right": 1, "untested": 0}
            if old is None or rank[s] > rank[old]:
                status[b.canon] = s
    return status, letters, kind


def _gate_findings(first, lengths, thr, skip):
    status, letters, kind = _gate_status(first, lengths, thr, skip)
    wrong = [g for g in status if status[g] == "wrong"]
    right = [g for g in status if status[g] == "right"]
    untested = [g for g in status if status[g] == "untested"]
    if not wrong:
        return []
    show = lambda gs: _names(letters[g] for g in gs)
    head = f"Gates: {show(wrong)} wrong" + (f", {show(right)} right" if right else "")
    if untested:
        head += (f" ({show(untested)} untested here: {_plural(untested, 'its', 'their')} gradient "
                 "is zero at the steps that show the mistake, as when it multiplies a zero "
                 "initial state)")
    W, WU = set(wrong), set(wrong) | set(untested)
    bias_text, bias_gates = _bias_vs_matrix(first, thr, letters, skip)
    if bias_text and bias_gates >= W:           # every wrong gate has a right bias: one finding
        return [head + ". " + bias_text]
    out = []
    if kind == "lstm":
        if W <= {"i", "f", "g"} and WU >= {"i", "f", "g"} and "o" in right:
            out.append(head + ". The o gate is right and the gates that reach the loss through "
                       f"the cell state are wrong: the cell-state gradient they share, {_DC}, is "
                       "wrong. c_t reaches the loss through h_t = o * tanh(c_t) and through "
                       "c_{t+1}; both terms belong in dc, and the derivative of tanh at c is "
                       "1 - tanh(c)**2 (not 1 - c**2, not 1 - h**2).")
        elif WU == {"i", "f", "o", "g"} and "o" in W and len(W) >= 2:
            out.append(head + ". What all the gates share is wrong: dh, the gradient reaching "
                       "h_t (from the output layer at step t plus dh_next from step t+1), or "
                       "the vectors the gate gradients are multiplied by (x_t, h_{t-1}).")
        else:
            eqs = "; ".join(_EQUATION[g] for g in wrong)
            shared = (f"; and {_DC} (shared by i, f, g)" if len(wrong) > 1 and "o" not in wrong
                      else "")
            out.append(head + f". Look at the line{_plural(wrong, '', 's')} for "
                       f"{_plural(wrong, 'this gate', 'these gates')}: {eqs}{shared}.")
    else:
        out.append(head + ". Look at the lines that compute the wrong gates' gradients, and at "
                   "what only they share.")
    if bias_text:
        out.append(bias_text)
    return out


def _bias_vs_matrix(first, thr, letters, skip):
    """A gate whose bias gradient is right but a matrix gradient wrong: the outer product."""
    biases, mats = {}, {}
    for p in first.params:
        if p.name in skip:
            continue
        is_bias = p.grad_shape is None and (len(p.shape) == 1 or (len(p.shape) == 2 and 1 in p.shape))
        for b in p.blocks:
            if b.canon is not None:
                (biases if is_bias else mats).setdefault(b.canon, []).append((p, b))
    hits = []
    for g, bl in biases.items():
        if all(b.ok(thr) and b.exercised for _, b in bl):
            hits += [(g, p.name) for p, b in mats.get(g, []) if not b.ok(thr)]
    if not hits:
        return "", set()
    gates = sorted({g for g, _ in hits}, key="ifogrzn".index)
    mnames = list(dict.fromkeys(n for _, n in hits))
    return (f"The bias gradient of gate{_plural(gates, '', 's')} {_names(letters[g] for g in gates)} "
            "is right, so the gradient of the gate pre-activation (da) is right there; "
            f"{_names(mnames)} {_plural(mnames, 'is', 'are')} wrong, so look at the outer product "
            "that turns da into the weight gradient: it must use the very vector the forward "
            "multiplied by that matrix (h_{t-1} of the step before, or x_t), summed over the "
            "steps.", set(gates))


def _length_finding(run, first, lengths, wrong):
    L = first.length
    if L is None or first.ok:
        return []
    raised = [r for r in lengths if r.error]
    out = []
    if L == 1:
        out.append("Wrong already for a sequence of length 1: the mistake is inside one step "
                   "(that step's own equations), not in what is carried from step to step.")
    else:
        prev = max((r for r in lengths if r.length is not None and r.length < L and not r.error),
                   key=lambda r: r.length, default=None)
        if prev is None:
            out.append(f"Wrong at length {L}; no shorter length could be checked.")
        else:
            before = {p.name: p for p in prev.params}
            def was_tested(p):      # its wrong blocks all had a non-zero gradient at length P
                b0 = before[p.name].blocks
                return all(b0[j].exercised for j, b in enumerate(p.blocks)
                           if not b.ok(run.threshold))
            tested = [p.name for p in wrong if was_tested(p)]
            untested = [p.name for p in wrong if not was_tested(p)]
            P = prev.length
            steps = "one step" if P == 1 else f"up to {P} steps"
            if L == 2:
                if tested:
                    msg = (f"Right for one step, wrong from two steps on: what you carry back "
                           f"from step t+1 to step t is wrong ({_names(tested)} "
                           f"{'is' if len(tested) == 1 else 'are'} right at length 1 and wrong at "
                           "length 2). Look at what step t+1 hands back: the gradient of the hidden "
                           "state (dh_next, added to the gradient from step t's own output), in "
                           "an LSTM that of the cell state (dc_next, times f), and at the weight "
                           "gradients summed over the steps (+=, not =).")
                else:
                    msg = (f"Wrong from length 2 on. At length 1 the gradient of "
                           f"{_names(untested)} is zero ({_plural(untested, 'it multiplies', 'they multiply')} "
                           "the initial state, which is zero), so length 1 could not test "
                           f"{_plural(untested, 'it', 'them')}: the mistake is in "
                           f"{_plural(untested, 'its', 'their')} own equation or in what is "
                           "carried from step t+1 to step t.")
                if tested and untested:
                    msg += (f" ({_names(untested)} could not be tested at length 1: "
                            f"{_plural(untested, 'its gradient is', 'their gradients are')} zero there.)")
                out.append(msg)
            else:
                out.append(
                    f"Right for {steps}, wrong from {L} steps on ({_names(p.name for p in wrong)}): "
                    f"something depends on a step's position. An index off by one (hs[t-1] at "
                    f"t = 0 is the last step in Python), a backward loop that skips steps "
                    f"(range(1, T), or one that stops early), or backpropagation through time "
                    f"truncated after {L - 2} steps back (for the check, set the truncation "
                    "longer than the sequence).")
    if raised:
        out.append("At length " + _names(str(r.length) for r in raised) + " your code raised: "
                   + raised[0].error.replace("GradientCheckError: ", "")
                   + ". Those lengths were skipped.")
    return out


def _notes(run, gate_note, first):
    notes = []
    if run.dtype == np.float32:
        f32 = [n for n, p in run.params.items() if p.dtype == np.float32]
        notes.append(
            f"{_names(f32)} {'is' if len(f32) == 1 else 'are'} float32. The check changes your "
            "own arrays, so your code ran as it is, in float32 (a float64 copy would not be the "
            f"array your code reads): step {run.step:g}, threshold {run.threshold:g} instead of "
            f"{PRECISION[np.dtype(np.float64)][1]:g}. A gradient off by less than a few "
            "percent cannot be told from float32 round-off; for a sharp check, convert your "
            "arrays to float64 first.")
    if gate_note:
        notes.append(gate_note)
    sampled = [p for p in first.params or [] if p.checked < int(np.prod(p.shape))]
    if sampled:
        notes.append(
            f"{_names(p.name for p in sampled)}: {run.samples} sampled elements "
            f"{'each' if len(sampled) > 1 else ''} (seeded, every gate block included), not "
            "all: a mistake confined to a few elements can be missed; samples=None checks "
            "every element.")
    if run.extra:
        notes.append(f"grads also returned {_names(map(str, run.extra))}, which "
                     f"{_plural(run.extra, 'is', 'are')} not in params: not checked (add the "
                     "arrays to params to check them).")
    return notes
