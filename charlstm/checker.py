"""``charlstm check``: find the bug in a learner's own RNN/LSTM layers.

A learner writes the classic coursework functions (``lstm_step_forward``,
``lstm_backward``, ...). This module calls each one on small float64 cases chosen so
that a transposed or swapped axis cannot pass by accident, and compares

- every output with charlstm's reference (``layers.py``), in the learner's convention
  (the classic signatures, or charlstm's own extended ones);
- every gradient of a backward with the reference *and* with finite differences of the
  learner's own forward, so the verdict does not rest on trusting charlstm.

When a gradient is wrong, it compares the learner's result with a catalogue of the
mistakes learners make (``CATALOGUE``): each is a deliberately wrong variant of the
reference, computed here by a short naive implementation with that mistake switched on.
A match to round-off names the mistake, the equation it breaks and the fix.

    report = check("my_layers.py")          # or a module, or globals(), or functions
    print(report)                           # the tables and diagnoses
    report.ok, report.to_json()

This runs the learner's code: it is meant for files you wrote or trust.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import itertools
import json
import math
import signal
import sys
import textwrap
import threading
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from . import fused, layers
from . import mistakes as M
from .mistakes import CATALOGUE
from .errors import CharlstmError
from .gradcheck import numeric_gradient

RIGHT = 1e-7        # max relative error of a correct float64 implementation vs the reference
FD_RIGHT = 1e-5     # vs finite differences of the learner's own forward (less exact)
MATCH = 1e-6        # "to round-off" when comparing with a catalogue variant
TIMEOUT = 20.0      # seconds per function, by default
FD_EPS = 1e-5      # centred differences of the learner's forward


class ImportFailed(CharlstmError):
    """The learner's file could not be imported (exit status 2)."""


def rel_error(a, b):
    """Largest element-wise |a - b| / max(|a| + |b|, 1e-8), as in the coursework."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8), initial=0.0))


def _close(a, b, tol=MATCH):
    return a is not None and b is not None and np.shape(a) == np.shape(b) and rel_error(a, b) < tol


# =========================================================================== the functions

@dataclass
class Spec:
    """One coursework function: how to call it and what it returns."""
    name: str
    signature: str          # the coursework signature, for messages and the template
    doc: str                # the template's docstring
    outputs: tuple          # names of the returned values, cache excluded


def _spec(name, signature, outputs, doc):
    return Spec(name, signature, doc.strip("\n"), tuple(outputs.split()))


SPECS = {s.name: s for s in [
    _spec("rnn_step_forward", "rnn_step_forward(x, prev_h, Wx, Wh, b)", "next_h", """
    One timestep of a vanilla RNN with a tanh activation:

        next_h = tanh(x @ Wx + prev_h @ Wh + b)

    x: (N, D) inputs; prev_h: (N, H) previous hidden state;
    Wx: (D, H); Wh: (H, H); b: (H,)
    Returns next_h (N, H) and a cache of what the backward pass needs.
    """),
    _spec("rnn_step_backward", "rnn_step_backward(dnext_h, cache)", "dx dprev_h dWx dWh db", """
    Backward pass for one RNN timestep.

    dnext_h: (N, H) gradient of the loss with respect to next_h.
    Returns dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,).
    Hint: next_h = tanh(a), and tanh'(a) = 1 - tanh(a)**2 = 1 - next_h**2.
    """),
    _spec("rnn_forward", "rnn_forward(x, h0, Wx, Wh, b)", "h", """
    A vanilla RNN over a whole sequence of T steps (call rnn_step_forward T times).

    x: (N, T, D); h0: (N, H) initial hidden state; Wx: (D, H); Wh: (H, H); b: (H,)
    Returns h (N, T, H), the hidden state of every step, and a cache.
    """),
    _spec("rnn_backward", "rnn_backward(dh, cache)", "dx dh0 dWx dWh db", """
    Backward pass over the whole sequence.

    dh: (N, T, H) upstream gradient of every hidden state (from the layer above only).
    Returns dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,).
    Hint: h_t feeds the layer above *and* step t+1, so the gradient entering step t is
    dh[:, t] + dprev_h from step t+1. Wx, Wh and b are used at every step: sum (+=)
    their gradients over time.
    """),
    _spec("word_embedding_forward", "word_embedding_forward(x, W)", "out", """
    Look up a vector for each integer id.

    x: (N, T) integer ids in [0, V); W: (V, D)
    Returns out (N, T, D), out[n, t] = W[x[n, t]], and a cache.
    """),
    _spec("word_embedding_backward", "word_embedding_backward(dout, cache)", "dW", """
    dout: (N, T, D). Returns dW (V, D): each row of dW sums dout over every position
    where that id occurs. Hint: ids repeat; np.add.at adds repeated indices.
    """),
    _spec("temporal_affine_forward", "temporal_affine_forward(x, w, b)", "out", """
    An affine layer applied at every timestep.

    x: (N, T, D); w: (D, M); b: (M,)
    Returns out (N, T, M) = x @ w + b, and a cache.
    """),
    _spec("temporal_affine_backward", "temporal_affine_backward(dout, cache)", "dx dw db", """
    dout: (N, T, M). Returns dx (N, T, D), dw (D, M), db (M,).
    w and b are used at every (n, t): sum their gradients over the batch *and* time.
    """),
    _spec("temporal_softmax_loss", "temporal_softmax_loss(x, y, mask)", "loss dx", """
    Softmax cross-entropy at every timestep.

    x: (N, T, V) scores; y: (N, T) target ids in [0, V); mask: (N, T) booleans, False
    where a position does not count.
    loss = -(1/N) * sum over n, t of mask[n, t] * log softmax(x[n, t])[y[n, t]]
    (summed over time, averaged over the batch).
    Returns loss (a float) and dx (N, T, V), its gradient with respect to x.
    """),
    _spec("lstm_step_forward", "lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)", "next_h next_c", """
    One LSTM timestep. The four gates are fused: a = x @ Wx + prev_h @ Wh + b is (N, 4H)
    and holds, in this order, the input gate i, forget gate f, output gate o and the
    candidate g:

        i = sigmoid(a[:, :H])      f = sigmoid(a[:, H:2H])
        o = sigmoid(a[:, 2H:3H])   g = tanh(a[:, 3H:])
        next_c = f * prev_c + i * g
        next_h = o * tanh(next_c)

    x: (N, D); prev_h, prev_c: (N, H); Wx: (D, 4H); Wh: (H, 4H); b: (4H,)
    Returns next_h (N, H), next_c (N, H) and a cache.
    """),
    _spec("lstm_step_backward", "lstm_step_backward(dnext_h, dnext_c, cache)",
          "dx dprev_h dprev_c dWx dWh db", """
    Backward pass for one LSTM timestep.

    dnext_h, dnext_c: (N, H) gradients of the loss with respect to next_h and next_c.
    Returns dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    Hints: next_c reaches the loss directly *and* through next_h = o * tanh(next_c);
    the stored gates are already activated, so sigmoid'(a_i) = i * (1 - i).
    """),
    _spec("lstm_forward", "lstm_forward(x, h0, Wx, Wh, b)", "h", """
    An LSTM over a whole sequence of T steps (call lstm_step_forward T times).
    The initial cell state is zero.

    x: (N, T, D); h0: (N, H); Wx: (D, 4H); Wh: (H, 4H); b: (4H,)
    Returns h (N, T, H) and a cache.
    """),
    _spec("lstm_backward", "lstm_backward(dh, cache)", "dx dh0 dWx dWh db", """
    Backward pass over the whole sequence.

    dh: (N, T, H) upstream gradient of every hidden state (from the layer above only).
    Returns dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    Hint: the gradient entering step t is dh[:, t] + dprev_h from step t+1, together
    with dprev_c from step t+1; sum (+=) the weight gradients over time.
    """),
]}

_PAIRS = [("rnn_step", "rnn_step_forward", "rnn_step_backward"),
          ("rnn", "rnn_forward", "rnn_backward"),
          ("word_embedding", "word_embedding_forward", "word_embedding_backward"),
          ("temporal_affine", "temporal_affine_forward", "temporal_affine_backward"),
          ("temporal_softmax_loss", "temporal_softmax_loss", None),
          ("lstm_step", "lstm_step_forward", "lstm_step_backward"),
          ("lstm", "lstm_forward", "lstm_backward")]
_FORWARD = {fam: fname for fam, fname, _ in _PAIRS}

# charlstm's own names for the same layers are checked too.
ALIASES = {"embedding_forward": "word_embedding_forward",
           "embedding_backward": "word_embedding_backward"}

TEMPLATES = {
    "rnn": ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
            "word_embedding_forward", "word_embedding_backward", "temporal_affine_forward",
            "temporal_affine_backward", "temporal_softmax_loss"],
    "lstm": ["lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"],
}
TEMPLATES["all"] = TEMPLATES["rnn"] + TEMPLATES["lstm"]


def template(kind="lstm"):
    """A starting file: every signature, its docstring (shapes, equations), no body."""
    if kind not in TEMPLATES:
        raise CharlstmError(f"unknown template {kind!r}: choose one of {', '.join(TEMPLATES)}")
    parts = [f'"""My {kind.upper() if kind != "all" else "RNN and LSTM"} layers, '
             f'checked with: charlstm check THIS_FILE.py"""\n\nimport numpy as np\n']
    if kind != "rnn":
        parts.append('\ndef sigmoid(x):\n    """A numerically stable sigmoid."""\n'
                     '    return 0.5 * (1.0 + np.tanh(0.5 * x))\n')
    for name in TEMPLATES[kind]:
        s = SPECS[name]
        doc = textwrap.indent(textwrap.dedent(s.doc).strip(), "    ").lstrip()
        parts.append(f'\ndef {s.signature}:\n    """{doc}\n    """\n    raise NotImplementedError\n')
    return "\n".join(parts)


# =========================================================================== cases

@dataclass
class Case:
    """One set of inputs: sizes all different, so a swapped axis cannot pass."""
    N: int
    T: int
    D: int
    H: int
    V: int
    rng: np.random.Generator


CASES = [(3, 4, 5, 6, 7), (4, 3, 7, 2, 9)]


def _inputs(spec_name, c: Case, extended=False):
    """The forward's inputs for a case, by name, in call order."""
    r, N, T, D, H, V = c.rng, c.N, c.T, c.D, c.H, c.V

    def w(*shape, s=0.4):
        return r.standard_normal(shape) * s
    fam = spec_name.split("_")[0]
    if spec_name.startswith("rnn_step"):
        return dict(x=w(N, D, s=1), prev_h=w(N, H, s=1), Wx=w(D, H), Wh=w(H, H), b=w(H))
    if spec_name.startswith("lstm_step"):
        return dict(x=w(N, D, s=1), prev_h=w(N, H, s=1), prev_c=w(N, H, s=1),
                    Wx=w(D, 4 * H), Wh=w(H, 4 * H), b=w(4 * H))
    if fam == "rnn":
        return dict(x=w(N, T, D, s=1), h0=w(N, H, s=1), Wx=w(D, H), Wh=w(H, H), b=w(H))
    if fam == "lstm":
        d = dict(x=w(N, T, D, s=1), h0=w(N, H, s=1))
        if extended:
            d["c0"] = w(N, H, s=1)
        return dict(d, Wx=w(D, 4 * H), Wh=w(H, 4 * H), b=w(4 * H))
    if "embedding" in spec_name:
        x = r.integers(0, V, (N, T))
        x.flat[: 3] = x.flat[-1]                                   # ids that repeat
        return dict(x=x, W=w(V, D, s=1))
    if "affine" in spec_name:
        return dict(x=w(N, T, D, s=1), w=w(D, V), b=w(V))
    mask = r.random((N, T)) < 0.7
    mask[0, 0] = False
    return dict(x=w(N, T, V, s=2), y=r.integers(0, V, (N, T)), mask=mask)


# =========================================================================== running learner code

class _Timeout(BaseException):
    """Raised inside the learner's code when its time is up (not an Exception, so their
    own ``except Exception`` cannot swallow it)."""


_ABSENT = "not defined in your file"


class _LearnerError(Exception):
    """The learner's code raised, returned the wrong thing, or ran out of time."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


@contextlib.contextmanager
def _time_limit(seconds):
    """Interrupt the block after ``seconds`` (Unix, main thread; elsewhere no limit)."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise _Timeout()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _where(exc):
    """'file.py, line 12, in rnn_forward' for the innermost frame of the learner's code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(str(Path(__file__).parent))]
    if not frames:
        return ""
    f = frames[-1]
    return f" ({Path(f.filename).name}, line {f.lineno}, in {f.name})"


def _positional(fn):
    """(required, total) positional parameters of fn; total is None for *args."""
    try:
        ps = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None, None
    pos = [p for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(p.default is p.empty for p in pos)
    star = any(p.kind == p.VAR_POSITIONAL for p in ps)
    return required, (None if star else len(pos))


# =========================================================================== reports

@dataclass
class Row:
    """One output of one function: its shape and its max relative errors."""
    name: str
    shape: tuple
    got_shape: tuple | None = None
    err_ref: float | None = None
    err_fd: float | None = None

    @property
    def ok(self):
        return self.err_ref is not None and self.err_ref < RIGHT


@dataclass
class Finding:
    """A diagnosis: which outputs it explains, and the words."""
    id: str | None
    outputs: list
    text: str


@dataclass
class FunctionReport:
    name: str
    status: str = "not implemented"    # pass | fail | not implemented | error | timeout | bad signature
    convention: str = ""
    rows: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    message: str = ""
    kind: str = "forward"

    @property
    def implemented(self):
        return self.status != "not implemented"

    def to_dict(self):
        return {"function": self.name, "status": self.status, "convention": self.convention,
                "max_rel_error": {r.name: (None if r.err_ref is None or math.isinf(r.err_ref)
                                           else r.err_ref) for r in self.rows},
                "max_rel_error_vs_finite_diff": {r.name: r.err_fd for r in self.rows
                                                 if r.err_fd is not None},
                "diagnosis": [f.id for f in self.findings if f.id],
                "message": self.message or None}

    def text(self):
        if self.status == "not implemented":
            return f"{self.name}: not implemented yet{(' - ' + self.message) if self.message else ''}"
        lines = [f"{self.name}  ({self.convention})" if self.convention else self.name]
        if self.rows:
            fd = self.kind == "backward" or self.name == "temporal_softmax_loss"
            lines.append(f"  {'output':<9} {'shape':<10} {'vs charlstm':>12}"
                         + (f" {'vs finite diff':>15}" if fd else "") + "  result")
            for r in self.rows:
                shape = "x".join(map(str, r.shape)) or "scalar"
                ref = "-" if r.err_ref is None or math.isinf(r.err_ref) else f"{r.err_ref:.1e}"
                res = "pass" if r.ok else "FAIL"
                if r.got_shape is not None and r.got_shape != r.shape:
                    res = f"FAIL (shape {'x'.join(map(str, r.got_shape)) or 'scalar'})"
                fdc = "" if not fd else f" {'-' if r.err_fd is None else format(r.err_fd, '.1e'):>15}"
                lines.append(f"  {r.name:<9} {shape:<10} {ref:>12}{fdc}  {res}")
        if self.message:
            lines.append(f"  {self.message}")
        for f in self.findings:
            if f.text:
                lines.append(_indent(f.text))
        verdict = {"pass": "PASS", "fail": "FAIL"}.get(self.status, self.status.upper())
        lines.append(f"  -> {verdict}")
        return "\n".join(lines)


def _indent(text, pad="  "):
    return "\n".join(pad + ln if ln else ln for ln in text.splitlines())


@dataclass
class Report:
    """What ``check`` found: one FunctionReport per coursework function it looked at."""
    functions: list
    source: str = ""
    printed: int = 0

    @property
    def checked(self):
        return [f for f in self.functions if f.implemented]

    @property
    def ok(self):
        """True when something is implemented and everything implemented passes."""
        return bool(self.checked) and all(f.status == "pass" for f in self.checked)

    @property
    def exit_code(self):
        return 0 if self.ok else 1

    def summary(self):
        passed = [f.name for f in self.functions if f.status == "pass"]
        failed = [f.name for f in self.checked if f.status != "pass"]
        todo = [f.name for f in self.functions if not f.implemented]
        parts = [f"{len(passed)} passed", f"{len(failed)} failed", f"{len(todo)} not implemented yet"]
        line = ", ".join(parts)
        if not self.checked:
            return (f"{line}. Nothing is implemented yet: replace a `raise NotImplementedError` "
                    "with your code and run the check again.")
        if failed:
            return f"{line}. Fix the first failing function first: later ones often call it."
        return f"{line}. Every implemented function matches the reference."

    def text(self):
        out = [f"Checking {self.source}" if self.source else "Checking your functions",
               f"float64; each output vs charlstm's reference (relative error, pass below {RIGHT:.0e}), "
               "each gradient also vs\nfinite differences of your own forward "
               f"(should be below ~{FD_RIGHT:.0e}).", ""]
        absent = [f.name for f in self.functions if f.message == _ABSENT]
        out += [f.text() + "\n" for f in self.functions if f.message != _ABSENT]
        if absent:
            out.append(f"Not defined in your file (not implemented yet): {', '.join(absent)}\n")
        if self.printed:
            out.append(f"(your functions printed {self.printed} lines while being checked; not shown)")
        out.append(self.summary())
        return "\n".join(out)

    __str__ = text

    def to_json(self):
        return json.dumps({"source": self.source, "ok": self.ok,
                           "functions": [f.to_dict() for f in self.functions]}, indent=1)

    def _repr_html_(self):
        import html
        rows = []
        for f in self.functions:
            diag = "<br>".join(html.escape(x.text) for x in f.findings) or html.escape(f.message)
            errs = ", ".join(f"{r.name} {r.err_ref:.1e}" for r in f.rows if r.err_ref is not None)
            rows.append(f"<tr><td><code>{f.name}</code></td><td>{html.escape(f.status)}</td>"
                        f"<td>{errs}</td><td style='text-align:left'>{diag}</td></tr>")
        return ("<table><tr><th>function</th><th>status</th><th>max rel. error vs reference"
                "</th><th>diagnosis</th></tr>" + "".join(rows) + "</table>"
                f"<p>{html.escape(self.summary())}</p>")


# =========================================================================== the families

def _family(name):
    """'lstm_step_backward' -> 'lstm_step'; 'rnn_forward' -> 'rnn'; ..."""
    for fam in ("rnn_step", "lstm_step", "rnn", "lstm", "word_embedding", "temporal_affine"):
        if name.startswith(fam + "_"):
            return fam
    return "temporal_softmax_loss"


_UPSTREAM = {"next_h": "dnext_h", "next_c": "dnext_c", "h": "dh", "hT": "dhT", "cT": "dcT",
             "out": "dout"}


def _forward_outputs(fam, conv):
    if fam in ("rnn", "lstm") and conv == "extended":
        return ("h", "hT") if fam == "rnn" else ("h", "hT", "cT")
    return SPECS[_FORWARD[fam]].outputs


def _backward_outputs(fam, conv):
    if fam == "lstm" and conv == "extended":
        return ("dx", "dh0", "dc0", "dWx", "dWh", "db")
    return SPECS[fam + "_backward"].outputs


def _reference(fam, inp, up=None, conv="classic"):
    """charlstm's layers.py, in the learner's convention: outputs, or gradients if ``up``."""
    L, v = layers, inp
    if fam == "rnn_step":
        h, cache = L.rnn_step_forward(*v.values())
        if up is None:
            return {"next_h": h}
        return dict(zip(_backward_outputs(fam, conv), L.rnn_step_backward(up["dnext_h"], cache)))
    if fam == "lstm_step":
        h, c, cache = L.lstm_step_forward(*v.values())
        if up is None:
            return {"next_h": h, "next_c": c}
        return dict(zip(_backward_outputs(fam, conv),
                        L.lstm_step_backward(up["dnext_h"], up["dnext_c"], cache)))
    if fam == "rnn":
        h, hT, cache = L.rnn_forward(v["x"], v["h0"], v["Wx"], v["Wh"], v["b"])
        if up is None:
            return {"h": np.array(h), "hT": hT} if conv == "extended" else {"h": np.array(h)}
        g = L.rnn_backward(up["dh"], cache, up.get("dhT"))
        return dict(zip(_backward_outputs(fam, conv), (np.array(a) for a in g)))
    if fam == "lstm":
        c0 = v.get("c0", np.zeros_like(v["h0"]))
        with fused.off():                              # the NumPy loops, not the compiled steps
            h, hT, cT, cache = L.lstm_forward(v["x"], v["h0"], c0, v["Wx"], v["Wh"], v["b"])
            if up is None:
                out = {"h": np.array(h)}
                return dict(out, hT=hT, cT=cT) if conv == "extended" else out
            dx, dh0, dc0, dWx, dWh, db = L.lstm_backward(up["dh"], cache, up.get("dhT"),
                                                         up.get("dcT"))
        g = {"dx": np.array(dx), "dh0": dh0, "dc0": dc0, "dWx": dWx, "dWh": dWh, "db": db}
        return {k: g[k] for k in _backward_outputs(fam, conv)}
    if fam == "word_embedding":
        out, cache = L.embedding_forward(v["x"], v["W"])
        return {"out": np.array(out)} if up is None else {"dW": L.embedding_backward(up["dout"], cache)}
    if fam == "temporal_affine":
        out, cache = L.temporal_affine_forward(v["x"], v["w"], v["b"])
        if up is None:
            return {"out": np.array(out)}
        dx, dw, db = L.temporal_affine_backward(up["dout"], cache)
        return {"dx": np.array(dx), "dw": dw, "db": db}
    # softmax: layers.py divides by the number of counted positions; the classic API by N.
    loss, dx = L.temporal_softmax_loss(v["x"], v["y"], v["mask"])
    scale = 1.0 if conv == "charlstm" else max(int(v["mask"].sum()), 1) / v["x"].shape[0]
    return {"loss": np.asarray(loss * scale), "dx": np.array(dx) * scale}


def _naive(fam, inp, up=None, conv="classic", k={}):
    """The naive implementation with mistakes ``k`` on (same return as ``_reference``)."""
    v = inp
    if fam == "rnn_step":
        if up is None:
            return {"next_h": M.rnn_step(*v.values(), k=k)}
        return M.rnn_step(*v.values(), up["dnext_h"], k=k)[1]
    if fam == "lstm_step":
        if up is None:
            return dict(zip(("next_h", "next_c"), M.lstm_step(*v.values(), k=k)))
        return M.lstm_step(*v.values(), up["dnext_h"], up["dnext_c"], k=k)[1]
    if fam in ("rnn", "lstm"):
        step = M.rnn_step if fam == "rnn" else M.lstm_step
        state0 = (v["h0"],) if fam == "rnn" else (v["h0"], v.get("c0", np.zeros_like(v["h0"])))
        weights = (v["Wx"], v["Wh"], v["b"])
        names = _forward_outputs(fam, conv)
        if up is None:
            h, last = M.sequence(step, v["x"], state0, weights, k=k)
            return dict(zip(names, (h, *last)))
        dT = None
        if conv == "extended":
            dT = [up[_UPSTREAM[n]] for n in names[1:]]
        _, g = M.sequence(step, v["x"], state0, weights, up["dh"], dT, k=k)
        return {n: g[n] for n in _backward_outputs(fam, conv)}
    if fam == "word_embedding":
        if up is None:
            return {"out": v["W"][v["x"]]}
        return {"dW": M.embedding_backward(v["x"], v["W"].shape[0], up["dout"], k)}
    if fam == "temporal_affine":
        x, w, b = v["x"], v["w"], v["b"]
        if up is None:
            return {"out": x @ w + b}
        d = up["dout"]
        return {"dx": d @ w.T, "dw": x.reshape(-1, x.shape[-1]).T @ d.reshape(-1, d.shape[-1]),
                "db": d.sum((0, 1))}
    count = max(int(v["mask"].sum()), 1) if conv == "charlstm" else None
    loss, dx = M.softmax_loss(v["x"], v["y"], v["mask"], k, divide_by=count)
    return {"loss": np.asarray(loss), "dx": dx}


# Mistakes searched for each function (ids; and gate-order knobs, expanded to every order).
_STEP_LSTM = ["lstm_dc_no_h_path", "lstm_dc_only_h_path", "lstm_sigmoid_of_activated",
              "lstm_tanh_of_tanh_c", "lstm_tanh_of_g", "lstm_dprev_c_is_dc", "lstm_do_uses_dc"]
_SEQ = ["seq_no_dnext_h", "seq_weights_assigned", "seq_final_state_ignored", "seq_loop_forward"]
_FWD_LSTM = ["lstm_h_no_tanh", "lstm_g_sigmoid", "lstm_gate_order"]
_SEARCH = {
    "rnn_step_backward": ["rnn_tanh_of_activated"],
    "rnn_backward": ["rnn_tanh_of_activated"] + _SEQ,
    "lstm_step_forward": _FWD_LSTM,
    "lstm_forward": _FWD_LSTM,
    "lstm_step_backward": _STEP_LSTM + ["lstm_gate_order", "lstm_backward_gate_order"],
    "lstm_backward": _STEP_LSTM + ["lstm_gate_order", "lstm_backward_gate_order"]
    + _SEQ + ["lstm_seq_dc_not_carried"],
    "word_embedding_backward": ["embedding_assign"],
    "temporal_softmax_loss": ["softmax_divide_NT", "softmax_ignores_mask"],
}
_STEP_LEVEL = set(_STEP_LSTM) | {"rnn_tanh_of_activated", "lstm_backward_gate_order"}


def _candidates(name, conv):
    """Variants to compare with, singles first, then pairs: [(((id, detail), ...), knobs)]."""
    ids = _SEARCH.get(name, [])
    if conv != "extended":
        ids = [m for m in ids if m != "seq_final_state_ignored"]
    if conv == "charlstm":
        ids = [m for m in ids if m != "softmax_divide_NT"]
    singles = M.singles(ids)
    out = [(((m, d),), kn) for m, d, kn, _ in singles]
    common = [s[:3] for s in singles if s[3]]
    for (m1, d1, k1), (m2, d2, k2) in itertools.combinations(common, 2):
        if not set(k1) & set(k2):
            out.append((((m1, d1), (m2, d2)), {**k1, **k2}))
    return out


# =========================================================================== shape-level mistakes

_SCALES = [("1/N", lambda c: 1 / c.N, "averaged over the batch instead of summed"),
           ("1/(N*T)", lambda c: 1 / (c.N * c.T), "averaged over batch and time instead of summed"),
           ("1/T", lambda c: 1 / c.T, "divided by T"),
           ("N", lambda c: c.N, "multiplied by the batch size N"),
           ("T", lambda c: c.T, "multiplied by the number of steps T"),
           ("-1", lambda c: -1, "with the wrong sign"),
           ("2", lambda c: 2, "doubled"), ("1/2", lambda c: 0.5, "halved")]


def _transform(name, got, ref, case, fname):
    """A shape-level explanation of a wrong output ``got``, or None: transposed axes, not
    summed over leading axes, or off by a constant factor."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    is_grad = name.startswith("d")
    exp, gs = "x".join(map(str, ref.shape)), "x".join(map(str, got.shape))
    for perm in itertools.permutations(range(ref.ndim)):
        if perm != tuple(range(ref.ndim)) and _close(got, ref.transpose(perm)):
            if name in ("dWx", "dWh", "dw"):
                inp = {"dWx": "x", "dWh": "prev_h", "dw": "x"}[name]
                fix = (f"{name} = {inp}.T @ da, with the input on the left and the gradient on the "
                       f"right (not da.T @ {inp}): a gradient has its parameter's shape, {exp}")
            else:
                fix = f"return {name} with shape {exp}: the axes are in the order the API gives"
            same = " (the shape is right because it is square, the values are not)" if gs == exp else ""
            return Finding("transposed", [name],
                           f"{name}: has the right values in transposed order (shape {gs}, expected "
                           f"{exp}){same}.\n  fix: {fix}")
    extra = got.ndim - ref.ndim
    if extra > 0 and got.shape[extra:] == ref.shape and _close(got.sum(tuple(range(extra))), ref):
        over = "the batch" if fname.startswith(("lstm_step", "rnn_step")) else "the batch and time"
        return Finding("not_summed", [name],
                       f"{name}: has shape {gs}, not {exp}; summed over its first "
                       f"{'axis' if extra == 1 else f'{extra} axes'} it is right: it was not "
                       f"summed over {over}.\n"
                       "  equation: a parameter used at every position gets the sum of the "
                       "gradients of all positions\n"
                       f"  fix: sum over {over}, e.g. {name} = "
                       f"{'da' if 'step' in fname else 'dout'}.sum(axis={0 if extra == 1 else tuple(range(extra))})")
    if got.shape == ref.shape and np.any(ref):
        c = float(np.sum(got * ref) / np.sum(ref * ref))
        if abs(c - 1) > 1e-6 and _close(got, c * ref):
            for label, val, meaning in _SCALES:
                if abs(c - val(case)) < 1e-9 * max(1, abs(c)):
                    how = f"{meaning} (factor {label} = {c:.4g})"
                    break
            else:
                how = f"off by a constant factor {c:.4g}"
            fix = ("sum over the batch, don't average: the loss already says how it is "
                   "averaged, and each layer passes gradients on unchanged"
                   if label in ("1/N", "1/(N*T)") and is_grad and np.isclose(c, val(case))
                   else f"find where {name} gets the factor {c:.4g}")
            return Finding("scaled", [name], f"{name}: is the right result {how}.\n  fix: {fix}")
    return None


def _mistake_text(combo, outputs, fname, kind):
    """One paragraph: which outputs match which mistake(s), the equation, the fix."""
    mistakes = [(CATALOGUE[m], d) for m, d in combo]
    whats = " and ".join(m.what.replace("{detail}", d) for m, d in mistakes)
    thing = "forward" if kind == "forward" else "backward"
    lines = [f"{', '.join(outputs)} match{'es' if len(outputs) == 1 else ''} a {thing} in which {whats}."]
    if fname.endswith(("_forward", "_backward")) and "step" not in fname and fname.startswith(("lstm", "rnn")):
        if any(m.id in _STEP_LEVEL for m, _ in mistakes):
            stepname = fname.replace("_backward", "_step_backward")
            lines.append(f"  This is in the step math: {stepname}, if your {fname} calls it.")
    for m, d in mistakes:
        lines.append(f"  equation: {m.equation}")
        lines.append(f"  fix: {m.fix.replace('{detail}', d)}")
    return "\n".join(lines)


def _hint(fname, wrong, right):
    """Which gradients are right and wrong, and where that points."""
    w, r = set(wrong), set(right)
    text = (f"{', '.join(right)} {'is' if len(r) == 1 else 'are'} right; "
            f"{', '.join(wrong)} {'is' if len(w) == 1 else 'are'} wrong") if right \
        else f"every output ({', '.join(wrong)}) is wrong"
    step = "step" in fname
    prev_h, prev_c = ("dprev_h", "dprev_c") if step else ("dh0", "dc0")
    lstm, sequence = fname.startswith("lstm"), not step and fname.startswith(("lstm", "rnn"))
    rules = [
        (w == {prev_c}, f"only {prev_c} is wrong, so dc itself is right: dprev_c = dc * f"),
        (w == {"db"}, "only db is wrong: db is the sum of da over the batch (and time)"),
        (w & {"dWh", prev_h} and w <= {"dWh", prev_h, "db"},
         f"look at the recurrent term: {prev_h} and dWh are the only gradients that use Wh "
         "and the previous hidden state (dprev_h = da @ Wh.T, dWh = prev_h.T @ da)"),
        (w & {"dx", "dWx"} and w <= {"dx", "dWx", "db"},
         "look at the input term: dx = da @ Wx.T and dWx = x.T @ da"),
        (lstm and prev_c in r and {"dx", "dWx", "dWh"} <= w,
         "the cell gradient is right but da is not: look at the four gate gradients "
         "di, df, do, dg and the order you stack them in"),
        (lstm and {prev_c, "dx", "dWx"} <= w,
         "dc is probably wrong, since everything else is computed from it: "
         "dc = dnext_c + dnext_h * o * (1 - tanh(next_c)**2)"),
        (sequence, "if the step functions pass, look at the loop: the gradient entering "
                   "step t, what is carried to step t-1, and += for the weights"),
    ]
    return next((f"{text}: {hint}." for cond, hint in rules if cond), text + ".")


# =========================================================================== the checker

class _Checker:
    def __init__(self, fns, timeout=TIMEOUT, seed=0):
        self.fns, self.timeout, self.seed = fns, timeout, seed
        self.printed = io.StringIO()

    # ---- calling the learner's code, every call guarded
    def call(self, name, *args):
        fn = self.fns[name]
        try:
            with contextlib.redirect_stdout(self.printed), warnings.catch_warnings(), \
                    np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        except _Timeout:
            raise
        except NotImplementedError as e:
            where = [f.name for f in traceback.extract_tb(e.__traceback__)][-1]
            other = f": it calls {where}, which is not implemented yet" if where not in (name, "<module>") else ""
            raise _LearnerError("not implemented", f"raises NotImplementedError{other}") from None
        except Exception as e:
            msg = str(e).splitlines()[0] if str(e) else ""
            raise _LearnerError("error", f"{name} raised {type(e).__name__}"
                                f"{': ' + msg if msg else ''}{_where(e)}") from None

    def unpack(self, name, res, names, has_cache=True):
        """The learner's return value as {name: float64 array} (and the cache)."""
        want = len(names) + has_cache
        got = res if isinstance(res, tuple) else (res,)
        if len(names) == 1 and not has_cache and not isinstance(res, tuple):
            got = (res,)
        if all(r is None for r in got):
            raise _LearnerError("not implemented", "it returns None (the starter code's placeholder)")
        if len(got) != want:
            listed = ", ".join(names) + (", cache" if has_cache else "")
            raise _LearnerError("bad signature", f"{name} returned {len(got)} value"
                                f"{'' if len(got) == 1 else 's'}; the coursework API returns "
                                f"{want}: {listed}")
        out = {}
        for n, v in zip(names, got):
            try:
                out[n] = np.asarray(v, dtype=np.float64)
            except (TypeError, ValueError):
                raise _LearnerError("error", f"{name} returned {n} as a {type(v).__name__}, "
                                    "not an array of numbers") from None
        return out, (got[-1] if has_cache else None)

    # ---- conventions
    def convention(self, fam):
        """classic or extended (lstm: by its parameters; rnn: by what it returns), or for the
        loss classic or charlstm (whether mask is optional)."""
        if fam == "rnn" and "rnn_forward" in self.fns:
            case, inp = next(self.cases(fam, "classic"))
            res = self.call("rnn_forward", *inp.values())
            return "extended" if isinstance(res, tuple) and len(res) == 3 else "classic"
        if fam == "lstm" and "lstm_forward" in self.fns:
            req, _ = _positional(self.fns["lstm_forward"])
            return "extended" if req == 6 else "classic"
        if fam == "temporal_softmax_loss":
            try:
                p = inspect.signature(self.fns[fam]).parameters.get("mask")
            except (TypeError, ValueError):
                p = None
            return "charlstm" if p is not None and p.default is not p.empty else "classic"
        return "classic"

    def check_signature(self, name, conv):
        spec = SPECS[name]
        n_api = spec.signature.count(",") + 1
        if name == "lstm_forward" and conv == "extended":
            n_api = 6
        req, total = _positional(self.fns[name])
        if req is None:
            return
        if req > n_api or (total is not None and total < n_api):
            try:
                have = f"{name}{inspect.signature(self.fns[name])}"
            except (TypeError, ValueError):
                have = name
            raise _LearnerError("bad signature", f"{have} takes {req if total is None else total} "
                                f"argument{'s' if (total or req) != 1 else ''}; the coursework API is "
                                f"{spec.signature}")

    # ---- one forward/backward pair
    def forward(self, fam, fname, conv, inp):
        res = self.call(fname, *inp.values())
        return self.unpack(fname, res, _forward_outputs(fam, conv), fam != "temporal_softmax_loss")

    def backward(self, fam, bname, conv, up, cache):
        args = [up[_UPSTREAM[n]] for n in _forward_outputs(fam, conv)]
        if fam == "lstm_step":                      # (dnext_h, dnext_c, cache)
            res = self.call(bname, args[0], args[1], cache)
        elif fam in ("rnn", "lstm"):                # (dh, cache[, dhT[, dcT]])
            _, total = _positional(self.fns[bname])
            if total is not None and total < 2 + len(args[1:]):
                for n in _forward_outputs(fam, conv)[1:]:    # final-state gradients not taken:
                    up[_UPSTREAM[n]][...] = 0                # the reference gets zeros too
                args = args[:1]
            res = self.call(bname, args[0], cache, *args[1:])
        else:                                       # (dout, cache)
            res = self.call(bname, args[0], cache)
        return self.unpack(bname, res, _backward_outputs(fam, conv), has_cache=False)[0]

    def cases(self, fam, conv):
        for j, sizes in enumerate(CASES):
            case = Case(*sizes, rng=np.random.default_rng(self.seed * 100 + j))
            yield case, _inputs(fam + "_", case, extended=(conv == "extended"))

    def upstream(self, case, outs):
        return {_UPSTREAM[n]: case.rng.standard_normal(v.shape) for n, v in outs.items()}

    def check_forward(self, fam, fname, conv, rep):
        rep.convention = _describe(fname, conv)
        self.check_signature(fname, conv)
        rows, first = {}, None
        for case, inp in self.cases(fam, conv):
            ref = _reference(fam, inp, None, conv)
            got, _ = self.forward(fam, fname, conv, inp)
            if fam == "temporal_softmax_loss":
                got = {k: (v.reshape(()) if k == "loss" and v.size == 1 else v) for k, v in got.items()}
            _compare(rows, ref, got)
            if first is None:
                first = (case, inp, ref, got)
        rep.rows = list(rows.values())
        if fam == "temporal_softmax_loss":                     # dx vs finite differences too
            case, inp, ref, got = first
            x = inp["x"]

            def loss():
                return float(np.asarray(self.forward(fam, fname, conv, inp)[0]["loss"]).reshape(-1)[0])
            if got["dx"].shape == x.shape:
                rows["dx"].err_fd = rel_error(got["dx"], numeric_gradient(loss, x, FD_EPS, order=2))
        self.diagnose(rep, fam, fname, conv, first, kind="forward")

    def check_backward(self, fam, fname, bname, conv, rep):
        rep.convention = _describe(bname, conv)
        self.check_signature(bname, conv)
        rows, first = {}, None
        for case, inp in self.cases(fam, conv):
            out, cache = self.forward(fam, fname, conv, inp)
            ref_out = _reference(fam, inp, None, conv)
            if any(out[k].shape != ref_out[k].shape for k in out):
                raise _LearnerError("error", f"cannot check {bname}: {fname} returns the wrong "
                                    "shapes (see above); fix it first")
            up = self.upstream(case, ref_out)
            got = self.backward(fam, bname, conv, up, cache)
            ref = _reference(fam, inp, up, conv)
            _compare(rows, ref, got)
            if first is None:
                first = (case, inp, up, ref, got)
        rep.rows = list(rows.values())
        # Finite differences of the learner's own forward, on the first case.
        case, inp, up, ref, got = first
        fwd_names = _forward_outputs(fam, conv)

        def objective():
            outs, _ = self.forward(fam, fname, conv, inp)
            return float(sum(np.sum(outs[n] * up[_UPSTREAM[n]]) for n in fwd_names))
        for r in rep.rows:
            arr = inp.get(r.name[1:])
            if arr is not None and got[r.name].shape == arr.shape:
                r.err_fd = rel_error(got[r.name], numeric_gradient(objective, arr, FD_EPS, order=2))
        self.diagnose(rep, fam, bname, conv, (case, inp, up, ref, got), kind="backward")
        fd_agrees = all(r.err_fd is not None and r.err_fd < FD_RIGHT for r in rep.rows)
        if rep.status == "fail" and fd_agrees:
            rep.findings.insert(0, Finding(None, [], (
                f"Every gradient agrees with finite differences of your own {fname}: this is the "
                f"right backward of a forward that differs from the reference. Fix {fname} first.")))
        elif rep.status == "pass" and not fd_agrees:
            rep.findings.append(Finding(None, [], (
                f"Every gradient matches the reference, but not finite differences of your own "
                f"{fname}: this backward is right, and your {fname} computes something else.")))

    def diagnose(self, rep, fam, fname, conv, first, kind):
        """Explain the wrong outputs with the fewest known mistakes and shape slips."""
        wrong = [r.name for r in rep.rows if not r.ok]
        rep.status = "fail" if wrong else "pass"
        if not wrong:
            return
        case, inp, up = first[0], first[1], (first[2] if kind == "backward" else None)
        ref, got = first[-2], first[-1]
        right = [r.name for r in rep.rows if r.ok]
        # Each candidate: the reference, or a variant with one or two mistakes switched on.
        # It explains the learner if it leaves the right outputs right and gives every
        # wrong one, directly or through a shape slip (transposed, not summed, scaled).
        found, singles = [], []
        for combo, knobs in [((), {})] + _candidates(fname, conv):
            v = _naive(fam, inp, up, conv, knobs) if combo else ref
            if combo and len(combo) == 1:
                singles.append((combo, v))
            if not all(_close(v[k], ref[k]) for k in right):
                continue
            direct = [k for k in wrong if _close(got[k], v[k])]
            slips = [_transform(k, got[k], v[k], case, fname) for k in wrong if k not in direct]
            if None in slips or (combo and not direct):
                continue
            found.append(((len(combo) + len(slips), len(slips)), combo, direct, slips))
        if found:
            cost = min(f[0] for f in found)
            best = [f for f in found if f[0] == cost]
            if "step" not in fname:            # a sequence's own (loop) mistake first
                best.sort(key=lambda f: any(m in _STEP_LEVEL for m, _ in f[1]))
            _, combo, direct, slips = best[0]
            rep.findings += slips
            if combo:
                rep.findings += _mistake_findings(combo, direct, fname, kind)
            # Two single mistakes can give the same numbers (in a sequence, a dnext_c reset
            # at every step is a dc without dnext_c): name each.
            for _, other, d, sl in best[1:]:
                if len(other) == 1 and not sl and not slips:
                    f = _mistake_findings(other, d, fname, kind)[0]
                    f.text = "Equally (the same numbers): " + f.text[0].lower() + f.text[1:]
                    rep.findings.append(f)
            return
        # Nothing explains it all: what single mistakes explain in part, and where to look.
        rest = list(wrong)
        for combo, v in singles:
            hits = [k for k in rest if _close(got[k], v[k]) and not _close(v[k], ref[k])]
            if hits:
                f = _mistake_findings(combo, hits, fname, kind)[0]
                f.text = "Partly explained: " + f.text
                rep.findings.append(f)
                rest = [k for k in rest if k not in hits]
        if rest:
            rep.findings.append(Finding(None, rest, _hint(fname, wrong, right)))


def _mistake_findings(combo, outputs, fname, kind):
    """A Finding per mistake in combo; the words go on the first."""
    text = _mistake_text(combo, outputs, fname, kind)
    return [Finding(m, outputs, text if j == 0 else "") for j, (m, _) in enumerate(combo)]


def _describe(name, conv):
    if conv == "extended":
        return "charlstm's extended signature: c0 in, final states out" if name.startswith("lstm") \
            else "charlstm's extended signature: final state out"
    if conv == "charlstm":
        return "charlstm's convention: mask optional, loss averaged over the counted positions"
    return "coursework signature"


def _compare(rows, ref, got):
    for k, r in ref.items():
        g = got[k]
        row = rows.setdefault(k, Row(k, r.shape))
        if g.shape != r.shape:
            row.got_shape = row.got_shape or g.shape
            row.err_ref = float("inf")
            continue
        e = rel_error(g, r)
        row.err_ref = e if row.err_ref is None else max(row.err_ref, e)


def _run(checker, only):
    """A FunctionReport for each coursework function (in ``only``, if given)."""
    reports = []
    for fam, fname, bname in _PAIRS:
        wanted = [n for n in (fname, bname) if n and (not only or n in only)]
        if not wanted:
            continue
        frep = FunctionReport(fname, message="" if fname in checker.fns else _ABSENT)
        brep = None
        if bname:
            brep = FunctionReport(bname, kind="backward",
                                  message="" if bname in checker.fns else _ABSENT)
        conv = "classic"
        if fname in checker.fns:
            conv = _guarded(checker, frep, checker.convention, fam) or "classic"
            if frep.status == "not implemented" and not frep.message:
                _guarded(checker, frep, checker.check_forward, fam, fname, conv, frep)
        if fname in wanted or (only and bname in wanted):
            reports.append(frep)
        if brep is None or bname not in wanted:
            continue
        if bname not in checker.fns:
            pass
        elif frep.status in ("pass", "fail"):
            _guarded(checker, brep, checker.check_backward, fam, fname, bname, conv, brep)
            if frep.status == "fail" and brep.status == "fail":
                # The backward works from the forward's cache: a generic hint would mislead.
                brep.findings = [f for f in brep.findings if f.id or not f.outputs]
                brep.findings.insert(0, Finding(None, [], (
                    f"Your {fname} does not pass, and {bname} works from what it stores in "
                    f"the cache: fix {fname} first, then check this again.")))
        else:
            # Without a working forward there is no cache. Is the backward written at all?
            _guarded(checker, brep, checker.call, bname, *([None] * (3 if fam == "lstm_step" else 2)))
            if brep.status != "not implemented":
                brep.status = "not checked"
                brep.message = (f"needs a working {fname} to make its cache; "
                                f"fix {fname} first")
        reports.append(brep)
    _blame_steps(checker, reports)
    return reports


def _blame_steps(checker, reports):
    """A sequence function that fails and calls a failing step function: say so first."""
    by_name = {r.name: r for r in reports}
    for r in reports:
        step = r.name.replace("_forward", "_step_forward").replace("_backward", "_step_backward")
        s = by_name.get(step)
        if r.status == "pass" or s is None or s.status == "pass" or r.name not in checker.fns:
            continue
        code = getattr(checker.fns[r.name], "__code__", None)
        if code is None or step not in code.co_names:
            continue
        ids = {f.id for f in r.findings if f.id}
        same = ids and ids <= {f.id for f in s.findings if f.id}
        if same:        # the step's mistake, seen through the loop: no need to say it twice
            r.findings = [f for f in r.findings if not f.id]
        r.findings.insert(0, Finding(sorted(ids)[0] if same else None, [], (
            f"Your {r.name} calls your {step}, which does not pass"
            + (f", and fails with the same mistake ({', '.join(sorted(ids))})" if same else "")
            + f": fix {step} first, then check this again.")))


def _guarded(checker, rep, fn, *args):
    """Run fn under the time limit; the learner's errors go into ``rep``."""
    try:
        with _time_limit(checker.timeout):
            return fn(*args)
    except _Timeout:
        rep.status = "timeout"
        rep.message = (f"{rep.name} did not finish within {checker.timeout:g} s: an endless "
                       "loop? (a while loop whose condition never changes, a loop index never "
                       "incremented). The other functions were still checked.")
    except _LearnerError as e:
        rep.status, rep.message = e.status, str(e)
        if e.status == "error":
            rep.message += "."
    return None


# =========================================================================== entry points

def load_file(path):
    """Import a learner's .py file as a fresh module; ImportFailed in one line if it can't."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file. Give the path of your .py file "
                           "(or print a starting file with: charlstm check --template lstm)")
    if path.suffix != ".py":
        raise ImportFailed(f"{path} is not a .py file: charlstm check imports Python source")
    name = f"_charlstm_learner_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        with contextlib.redirect_stdout(io.StringIO()), _time_limit(TIMEOUT):
            spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ImportFailed(f"cannot import {path.name}: syntax error on line {e.lineno}: "
                           f"{e.msg}{(' -> ' + e.text.strip()) if e.text else ''}") from None
    except _Timeout:
        raise ImportFailed(f"cannot import {path.name}: importing it took over {TIMEOUT:g} s. "
                           "Is there code at the top level that runs a long job? Put it under "
                           "`if __name__ == \"__main__\":`") from None
    except BaseException as e:     # the learner's own error, SystemExit included
        msg = str(e).splitlines()[0] if str(e) else ""
        raise ImportFailed(f"cannot import {path.name}: {type(e).__name__}"
                           f"{': ' + msg if msg else ''}{_where(e)}") from None
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def _collect(source, functions):
    """{coursework name: callable} from a file path, module, namespace and/or keywords."""
    if isinstance(source, (str, Path)):
        source = load_file(source)
    ns = vars(source) if isinstance(source, ModuleType) else dict(source or {})
    ns.update(functions)
    fns = {}
    for name, obj in ns.items():
        canon = ALIASES.get(name, name)
        if canon in SPECS and callable(obj) and (canon == name or canon not in fns):
            fns[canon] = obj
    return fns


def check(source=None, *, only=None, timeout=TIMEOUT, seed=0, **functions):
    """Check a learner's coursework functions against charlstm; returns a ``Report``.

    source: the path of a .py file, a module, or a namespace such as ``globals()``;
    functions: or pass them by name, e.g. ``check(lstm_step_forward=my_fwd, ...)``.
    only: a name or list of names to check (with the forward each backward needs).
    timeout: seconds allowed per function (Unix main thread only; None for no limit).

    This runs the learner's code.
    """
    if source is not None and not isinstance(source, (str, Path, dict, ModuleType)):
        raise CharlstmError("check() takes a file path, a module or a namespace such as "
                            "globals(), or functions by name")
    only = [only] if isinstance(only, str) else list(only or [])
    only = [ALIASES.get(n, n) for n in only]
    unknown = [n for n in only if n not in SPECS]
    if unknown:
        raise CharlstmError(f"unknown function {unknown[0]!r}: --only takes one of "
                            f"{', '.join(SPECS)}")
    fns = _collect(source, functions)
    checker = _Checker(fns, timeout=timeout, seed=seed)
    label = str(source) if isinstance(source, (str, Path)) else getattr(source, "__name__", "")
    reports = _run(checker, set(only))
    printed = checker.printed.getvalue().count("\n")
    return Report(reports, source=label if isinstance(source, (str, Path)) else "", printed=printed)
