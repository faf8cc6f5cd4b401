"""Measure the truth about the learner files in tests/learners/{real,dlai,minchar,classes}/.

    python tests/learners/measure.py            # all folders: rewrite each manifest.json
    python tests/learners/measure.py real dlai  # some folders
    python tests/learners/measure.py --check    # re-measure and compare with the committed manifests

This script is the evidence the checker (`charlstm check`) is judged against, so it shares
nothing with it: it never imports charlstm. It has its own loader (one top-level statement at
a time, Python 2 print statements read as calls, Python 2 integer division reproduced on
request, notebooks read cell by cell), its own reference implementation of every function in
each API's conventions (each reference is itself checked against finite differences before
anything is measured), and its own centred finite differences in float64.

For every output of every function it records two errors, both scaled to the output's size:

    err = max|a - b| / max(max|a|, max|b|)

`vs_reference` compares with the reference on the same inputs (in the file's own layout);
`vs_finite_diff` compares a gradient with centred differences (h = 1e-5) of the *file's own*
forward (so a backward consistent with a wrong forward is right here and wrong against the
reference). An output is right when its shape equals the reference's and vs_reference
<= 1e-8 (a right one measures ~1e-16); finite differences of a right gradient measure
~1e-10, of a wrong one 1e-2 or more. Sizes all differ from each other (N=3, T=4, D=5,
H=6, V=7 for cs231n), so a swapped axis cannot pass by accident.

The authored part of each manifest entry (what the file is, the mistake, the note a teaching
assistant would write) lives in the FILES tables below; everything else in the manifests is
measured here.
"""

import ast
import contextlib
import inspect
import io
import json
import re
import sys
import tokenize
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FD_H = 1e-5
REF_TOL = 1e-8          # an output equals the reference when err <= this (and shapes match)
FD_TOL = 1e-6           # a gradient agrees with finite differences when err <= this


# --------------------------------------------------------------------------- errors

def err(a, b):
    """max|a - b| scaled by the larger of the two arrays' largest magnitude."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    scale = max(np.max(np.abs(a)) if a.size else 0.0, np.max(np.abs(b)) if b.size else 0.0)
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(a - b)) / scale)


def fmt(e):
    """Two significant digits, enough to tell round-off from a mistake."""
    return None if e is None else float("%.2g" % e)


def num_grad(f, arr):
    """Centred differences of the scalar f() with respect to arr (changed in place, restored)."""
    g = np.zeros(arr.shape)
    for ix in np.ndindex(arr.shape):
        old = arr[ix]
        arr[ix] = old + FD_H
        fp = f()
        arr[ix] = old - FD_H
        fm = f()
        arr[ix] = old
        g[ix] = (fp - fm) / (2 * FD_H)
    return g


# --------------------------------------------------------------------------- loading

class Source:
    """A learner's file as units of code: one for a .py file, one per code cell of a notebook."""

    def __init__(self, path):
        self.path = Path(path)
        self.units = []                       # (cell index or None, code cell number, source)
        self.magics = []                      # IPython magics and shell lines, not run
        if self.path.suffix == ".ipynb":
            nb = json.loads(self.path.read_text())
            code_no = 0
            for k, cell in enumerate(nb["cells"]):
                if cell["cell_type"] != "code":
                    continue
                code_no += 1
                src = cell["source"]
                src = "".join(src) if isinstance(src, list) else src
                # IPython magics and shell lines: blanked, so line numbers stay those of the cell
                lines = src.split("\n")
                for n, l in enumerate(lines, 1):
                    if l.lstrip().startswith(("%", "!")):
                        self.magics.append("cell %d, line %d: %s" % (code_no, n, l.strip()))
                src = "\n".join("" if l.lstrip().startswith(("%", "!")) else l for l in lines)
                self.units.append((k, code_no, src))
        else:
            self.units.append((None, None, self.path.read_text()))

    def where(self, unit, line):
        k, code_no, _ = unit
        return "line %d" % line if k is None else "cell %d, line %d" % (code_no, line)


def py2_print_calls(src):
    """Rewrite Python 2 `print x, y` statements as `print(x, y)` (a trailing comma -> end=' ').

    Token based, so strings and comments are left alone; a print at the start of a statement
    (after a newline, an indent, a `;`, or the `:` of a one-line compound statement) that is
    not already followed by `(` is rewritten. Enough for the learner files here; not a general
    Python 2 translator. Returns the new source and the lines rewritten.
    """
    toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
    lines = src.split("\n")
    edits = []                     # (row, col, text_to_insert_or_replace, n_chars_replaced)
    depth = 0
    start = True
    rewritten = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        if start and tok.type == tokenize.NAME and tok.string == "print":
            nxt = toks[i + 1]
            if not (nxt.type == tokenize.OP and nxt.string in ("(", "=", ".")):
                # find the end of this simple statement
                j = i + 1
                d = 0
                while True:
                    t = toks[j]
                    if t.type == tokenize.OP and t.string in "([{":
                        d += 1
                    elif t.type == tokenize.OP and t.string in ")]}":
                        d -= 1
                    if d == 0 and (t.type in (tokenize.NEWLINE, tokenize.COMMENT, tokenize.ENDMARKER)
                                   or (t.type == tokenize.OP and t.string == ";")):
                        break
                    j += 1
                last = toks[j - 1]
                if last is tok:                                 # bare `print`
                    edits.append((tok.end[0], tok.end[1], "()", 0))
                else:
                    if last.type == tokenize.OP and last.string == ",":
                        edits.append((last.start[0], last.start[1], ", end=' ')", 1))
                    else:
                        edits.append((last.end[0], last.end[1], ")", 0))
                    first = toks[i + 1]
                    edits.append((tok.end[0], tok.end[1], "(", first.start[1] - tok.end[1]
                                  if first.start[0] == tok.end[0] else 0))
                rewritten.append(tok.start[0])
        if tok.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            start = True
        elif tok.type == tokenize.OP and tok.string in (":", ";") and depth == 0:
            start = True
        elif tok.type not in (tokenize.NL, tokenize.COMMENT):
            start = False
        i += 1
    for row, col, text, n in sorted(edits, reverse=True):
        ln = lines[row - 1]
        lines[row - 1] = ln[:col] + text + ln[col + n:]
    return "\n".join(lines), sorted(set(rewritten))


class _Py2Division(ast.NodeTransformer):
    """a / b -> __py2div__(a, b, line): floor division when both are integers, as Python 2 did."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Div):
            return ast.copy_location(ast.Call(ast.Name("__py2div__", ast.Load()),
                                              [node.left, node.right, ast.Constant(node.lineno)], []), node)
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Div):
            load = ast.parse(ast.unparse(node.target), mode="eval").body
            call = ast.Call(ast.Name("__py2idiv__", ast.Load()),
                            [load, node.value, ast.Constant(node.lineno)], [])
            return ast.copy_location(ast.Assign([node.target], call), node)
        return node


def _is_int(v):
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (int, np.integer)):
        return True
    return isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.integer)


class Loaded:
    """The namespace a learner's file defines, loaded one top-level statement at a time."""

    def __init__(self, path, python2=False, py2_division=False, supply=None):
        self.source = Source(path)
        self.ns = {"__name__": "learner_" + Path(path).stem, "__builtins__": __builtins__}
        self.skipped = []            # what did not run, and why
        self.print_lines = []        # Python 2 print statements read as calls
        self.int_division_lines = set()
        self.defs = {}               # function name -> ast.FunctionDef
        if python2:
            self.ns["xrange"] = range
        if supply:
            self.ns.update(supply)
        self.ns["__py2div__"] = self._py2div
        self.ns["__py2idiv__"] = self._py2idiv
        for unit in self.source.units:
            src = unit[2]
            if python2:
                src, rew = py2_print_calls(src)
                self.print_lines += [self.source.where(unit, r) for r in rew]
            try:
                tree = ast.parse(src)
            except SyntaxError as e:
                self.skipped.append({"where": self.source.where(unit, e.lineno or 0),
                                     "why": "SyntaxError: %s" % e.msg})
                continue
            for node in tree.body:
                if isinstance(node, ast.While):
                    self.skipped.append({"where": self.source.where(unit, node.lineno),
                                         "why": "top-level while loop (the training loop): not run"})
                    continue
                if isinstance(node, ast.FunctionDef):
                    self.defs[node.name] = node
                mod = ast.Module([node], type_ignores=[])
                if py2_division:
                    mod = _Py2Division().visit(mod)
                ast.fix_missing_locations(mod)
                name = str(path) if unit[0] is None else "%s[cell %d]" % (path, unit[1])
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        exec(compile(mod, name, "exec"), self.ns)
                except Exception as e:
                    self.skipped.append({"where": self.source.where(unit, node.lineno),
                                         "why": "%s: %s" % (type(e).__name__, e)})

    def _py2div(self, a, b, line):
        if _is_int(a) and _is_int(b):
            self.int_division_lines.add(line)
            return a // b
        return a / b

    def _py2idiv(self, a, b, line):
        if _is_int(a) and _is_int(b):
            self.int_division_lines.add(line)
            a //= b
            return a
        a /= b
        return a

    def fn(self, name):
        f = self.ns.get(name)
        return f if callable(f) else None

    def untouched_stub(self, name):
        """True when the body is only a docstring, None placeholders, pass and a return."""
        node = self.defs.get(name)
        if node is None:
            return False
        for st in node.body:
            if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant):
                continue
            if isinstance(st, ast.Pass):
                continue
            if isinstance(st, ast.Assign):
                v = st.value
                vals = v.elts if isinstance(v, ast.Tuple) else [v]
                if all(isinstance(e, ast.Constant) and e.value is None for e in vals):
                    continue
            if isinstance(st, ast.Return):
                continue
            if isinstance(st, ast.Raise):
                continue
            return False
        return True


def all_none(result):
    if result is None:
        return True
    if isinstance(result, (tuple, list)):
        return len(result) > 0 and all(r is None for r in result)
    if isinstance(result, dict):
        return len(result) > 0 and all(r is None for r in result.values())
    return False


class Call:
    """The outcome of calling a learner's function: its result, or how it stopped."""

    def __init__(self, loaded, name, *args):
        self.result = None
        self.raised = None
        self.returned_none = False    # a body that is not a stub and returns nothing
        self.stub = None              # why it counts as not implemented, if it does
        f = loaded.fn(name)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.result = f(*args)
        except NotImplementedError:
            self.stub = "raises NotImplementedError"
            return
        except NameError as e:
            if loaded.untouched_stub(name):
                self.stub = "untouched starter body: NameError (%s): its return names are never assigned" % e
                return
            self.raised = "NameError: %s" % e
            return
        except Exception as e:
            self.raised = "%s: %s" % (type(e).__name__, e)
            return
        if all_none(self.result):
            if self.result is None and not loaded.untouched_stub(name):
                self.returned_none = True
            else:
                self.stub = "returns the starter's None placeholders"


def compare(out, ref):
    """An output against the reference: shape, error, and the error of the values alone."""
    rec = {}
    if out is None or not hasattr(np.asarray(out), "shape"):
        return {"ok": False, "got": repr(type(out).__name__)}
    out = np.asarray(out, dtype=float)
    ref = np.asarray(ref, dtype=float)
    if out.shape != ref.shape:
        rec["shape"] = list(out.shape)
        rec["expected_shape"] = list(ref.shape)
        if out.size == ref.size:
            rec["vs_reference_values_reshaped"] = fmt(err(out.reshape(ref.shape), ref))
        rec["ok"] = False
        return rec
    e = err(out, ref)
    rec["vs_reference"] = fmt(e)
    rec["ok"] = e <= REF_TOL
    return rec


# =========================================================================== cs231n
# rnn_layers.py: batch-major (N, T, D) arrays, fused gates i, f, o, g.

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class Cs231nRef:
    """The reference, in the coursework layout. Each *_grads returns the gradients in the
    order the coursework backward returns them."""

    @staticmethod
    def rnn_step(x, h, Wx, Wh, b):
        return (np.tanh(x @ Wx + h @ Wh + b),)

    @staticmethod
    def rnn_step_grads(up, x, h, Wx, Wh, b):
        (dn,) = up
        nh = np.tanh(x @ Wx + h @ Wh + b)
        dz = dn * (1 - nh ** 2)
        return dz @ Wx.T, dz @ Wh.T, x.T @ dz, h.T @ dz, dz.sum(0)

    @staticmethod
    def rnn_seq(x, h0, Wx, Wh, b):
        hs, h = [], h0
        for t in range(x.shape[1]):
            h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
            hs.append(h)
        return (np.stack(hs, 1),)

    @staticmethod
    def rnn_seq_grads(up, x, h0, Wx, Wh, b):
        (dh,) = up
        (h,) = Cs231nRef.rnn_seq(x, h0, Wx, Wh, b)
        T = x.shape[1]
        dx = np.zeros_like(x)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
        carry = np.zeros_like(h0)
        for t in reversed(range(T)):
            prev = h[:, t - 1] if t > 0 else h0
            dz = (dh[:, t] + carry) * (1 - h[:, t] ** 2)
            dx[:, t] = dz @ Wx.T
            dWx += x[:, t].T @ dz
            dWh += prev.T @ dz
            db += dz.sum(0)
            carry = dz @ Wh.T
        return dx, carry, dWx, dWh, db

    @staticmethod
    def _gates(x, h, c, Wx, Wh, b):
        H = h.shape[-1]
        a = x @ Wx + h @ Wh + b
        i, f, o = sigmoid(a[..., :H]), sigmoid(a[..., H:2 * H]), sigmoid(a[..., 2 * H:3 * H])
        g = np.tanh(a[..., 3 * H:])
        nc = f * c + i * g
        return i, f, o, g, nc, o * np.tanh(nc)

    @staticmethod
    def lstm_step(x, h, c, Wx, Wh, b):
        i, f, o, g, nc, nh = Cs231nRef._gates(x, h, c, Wx, Wh, b)
        return nh, nc

    @staticmethod
    def _lstm_step_back(dnh, dnc, x, h, c, Wx, Wh, b):
        i, f, o, g, nc, nh = Cs231nRef._gates(x, h, c, Wx, Wh, b)
        tc = np.tanh(nc)
        dc = dnc + dnh * o * (1 - tc ** 2)
        da = np.concatenate([dc * g * i * (1 - i), dc * c * f * (1 - f),
                             dnh * tc * o * (1 - o), dc * i * (1 - g ** 2)], axis=-1)
        return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, h.T @ da, da.sum(0)

    @staticmethod
    def lstm_step_grads(up, x, h, c, Wx, Wh, b):
        return Cs231nRef._lstm_step_back(up[0], up[1], x, h, c, Wx, Wh, b)

    @staticmethod
    def lstm_seq(x, h0, Wx, Wh, b):
        hs, h, c = [], h0, np.zeros_like(h0)
        for t in range(x.shape[1]):
            h, c = Cs231nRef.lstm_step(x[:, t], h, c, Wx, Wh, b)
            hs.append(h)
        return (np.stack(hs, 1),)

    @staticmethod
    def lstm_seq_grads(up, x, h0, Wx, Wh, b):
        (dh,) = up
        T = x.shape[1]
        hs, cs, h, c = [h0], [np.zeros_like(h0)], h0, np.zeros_like(h0)
        for t in range(T):
            h, c = Cs231nRef.lstm_step(x[:, t], h, c, Wx, Wh, b)
            hs.append(h)
            cs.append(c)
        dx = np.zeros_like(x)
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
        dhc, dcc = np.zeros_like(h0), np.zeros_like(h0)
        for t in reversed(range(T)):
            gx, dhc, dcc, gWx, gWh, gb = Cs231nRef._lstm_step_back(
                dh[:, t] + dhc, dcc, x[:, t], hs[t], cs[t], Wx, Wh, b)
            dx[:, t] = gx
            dWx += gWx
            dWh += gWh
            db += gb
        return dx, dhc, dWx, dWh, db

    @staticmethod
    def embed(ids, W):
        return (W[ids],)

    @staticmethod
    def embed_grads(up, ids, W):
        dW = np.zeros_like(W)
        np.add.at(dW, ids, up[0])
        return (dW,)

    @staticmethod
    def affine(x, w, b):
        return (x @ w + b,)

    @staticmethod
    def affine_grads(up, x, w, b):
        (d,) = up
        return d @ w.T, np.einsum("ntd,ntm->dm", x, d), d.sum((0, 1))

    @staticmethod
    def softmax_loss(x, y, mask):
        N = x.shape[0]
        z = x - x.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        picked = np.take_along_axis(logp, y[..., None], -1)[..., 0]
        loss = -np.sum(mask * picked) / N
        dx = np.exp(logp)
        np.put_along_axis(dx, y[..., None], np.take_along_axis(dx, y[..., None], -1) - 1, -1)
        return loss, dx * mask[..., None] / N


# What each coursework function takes and gives. Argument kinds say how a layout changes
# them: "step" arrays have a batch axis, "seq" arrays a batch and a time axis, "param" neither.
CS_FORWARD = {
    "rnn_step_forward": (["x:step", "prev_h:step", "Wx:param", "Wh:param", "b:param"],
                         ["next_h:step"], Cs231nRef.rnn_step, "rnn_step"),
    "rnn_forward": (["x:seq", "h0:step", "Wx:param", "Wh:param", "b:param"],
                    ["h:seq"], Cs231nRef.rnn_seq, "rnn_seq"),
    "word_embedding_forward": (["ids:seq", "W:param"], ["out:seq"], Cs231nRef.embed, "embed"),
    "lstm_step_forward": (["x:step", "prev_h:step", "prev_c:step", "Wx4:param", "Wh4:param", "b4:param"],
                          ["next_h:step", "next_c:step"], Cs231nRef.lstm_step, "lstm_step"),
    "lstm_forward": (["x:seq", "h0:step", "Wx4:param", "Wh4:param", "b4:param"],
                     ["h:seq"], Cs231nRef.lstm_seq, "lstm_seq"),
    "temporal_affine_forward": (["xa:seq", "w:param", "ba:param"], ["out:seq"], Cs231nRef.affine, "affine"),
}
# backward: its forward, the gradient(s) coming in, what it returns (name:kind:forward argument)
CS_BACKWARD = {
    "rnn_step_backward": ("rnn_step_forward", ["dnext_h:step"], Cs231nRef.rnn_step_grads,
                          ["dx:step:x", "dprev_h:step:prev_h", "dWx:param:Wx", "dWh:param:Wh", "db:param:b"]),
    "rnn_backward": ("rnn_forward", ["dh:seq"], Cs231nRef.rnn_seq_grads,
                     ["dx:seq:x", "dh0:step:h0", "dWx:param:Wx", "dWh:param:Wh", "db:param:b"]),
    "word_embedding_backward": ("word_embedding_forward", ["dout:seq"], Cs231nRef.embed_grads,
                                ["dW:param:W"]),
    "lstm_step_backward": ("lstm_step_forward", ["dnext_h:step", "dnext_c:step"], Cs231nRef.lstm_step_grads,
                           ["dx:step:x", "dprev_h:step:prev_h", "dprev_c:step:prev_c",
                            "dWx:param:Wx4", "dWh:param:Wh4", "db:param:b4"]),
    "lstm_backward": ("lstm_forward", ["dh:seq"], Cs231nRef.lstm_seq_grads,
                      ["dx:seq:x", "dh0:step:h0", "dWx:param:Wx4", "dWh:param:Wh4", "db:param:b4"]),
    "temporal_affine_backward": ("temporal_affine_forward", ["dout:seq"], Cs231nRef.affine_grads,
                                 ["dx:seq:xa", "dw:param:w", "db:param:ba"]),
}
CS_ORDER = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
            "word_embedding_forward", "word_embedding_backward",
            "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
            "temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss"]
CS_PROVIDED = {"temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss"}


def cs_data(N, seed=0):
    """Coursework-layout inputs: N=3 (N=1 for the unbatched layout), T=4, D=5, H=6, V=7."""
    T, D, H, V, Vw = 4, 5, 6, 7, 5
    r = np.random.default_rng(seed)
    d = {
        "x": r.standard_normal((N, D)), "prev_h": 0.5 * r.standard_normal((N, H)),
        "prev_c": 0.5 * r.standard_normal((N, H)),
        "Wx": 0.4 * r.standard_normal((D, H)), "Wh": 0.4 * r.standard_normal((H, H)),
        "b": 0.1 * r.standard_normal(H),
        "Wx4": 0.4 * r.standard_normal((D, 4 * H)), "Wh4": 0.4 * r.standard_normal((H, 4 * H)),
        "b4": 0.1 * r.standard_normal(4 * H),
        "xs": r.standard_normal((N, T, D)), "h0": 0.5 * r.standard_normal((N, H)),
        "ids": r.integers(0, Vw, (N, T)), "W": r.standard_normal((Vw, D)),
        "xa": r.standard_normal((N, T, D)), "w": 0.5 * r.standard_normal((D, V)),
        "ba": 0.1 * r.standard_normal(V),
        "scores": r.standard_normal((N, T, V)), "y": r.integers(0, V, (N, T)),
        "mask": r.random((N, T)) > 0.3,
        "up_step": [r.standard_normal((N, H)), r.standard_normal((N, H))],
        "up_seq_h": r.standard_normal((N, T, H)), "up_seq_d": r.standard_normal((N, T, D)),
        "up_seq_v": r.standard_normal((N, T, V)),
    }
    d["mask"][0, 0], d["mask"][-1, -1] = True, False
    d["ids"][0, :2] = 1                      # a repeated word, always
    return d


def cs_args(fname, d):
    """The forward's arguments (coursework layout) for one function, by argument name."""
    names = [a.split(":")[0] for a in CS_FORWARD[fname][0]]
    seq_x = {"rnn_forward": "xs", "lstm_forward": "xs"}
    return {n: d[seq_x.get(fname, n) if n == "x" else n] for n in names}


def cs_upstream(fname, d):
    ups = {"rnn_step_backward": [d["up_step"][0]], "lstm_step_backward": d["up_step"],
           "rnn_backward": [d["up_seq_h"]], "lstm_backward": [d["up_seq_h"]],
           "word_embedding_backward": [d["up_seq_d"]], "temporal_affine_backward": [d["up_seq_v"]]}
    return ups[fname]


def to_layout(a, kind, layout):
    """Coursework-layout array -> the same values in another layout."""
    a = np.asarray(a)
    if kind == "param" or layout == "coursework":
        return a.copy()
    if layout == "time-major":
        return np.ascontiguousarray(np.swapaxes(a, 0, 1)) if kind == "seq" else a.copy()
    if layout == "unbatched":                # data made with N = 1: drop the batch axis
        return a[0].copy()
    raise ValueError(layout)


def cs_measure_file(lo, layout="coursework"):
    """Measure every coursework function a loaded file defines, in one layout."""
    d = cs_data(1 if layout == "unbatched" else 3)
    res = {}
    for fname in CS_ORDER:
        if lo.fn(fname) is None:
            res[fname] = {"status": "missing"}
            continue
        if fname in CS_FORWARD:
            res[fname] = cs_forward(lo, fname, d, layout)
        elif fname in CS_BACKWARD:
            res[fname] = cs_backward(lo, fname, d, layout, res)
        else:
            res[fname] = cs_softmax(lo, d, layout)
    return res


def _kinds(specs):
    return [(s.split(":")[0], s.split(":")[1]) for s in specs]


def cs_forward(lo, fname, d, layout):
    arg_specs, out_specs, ref, _ = CS_FORWARD[fname]
    args = cs_args(fname, d)
    kinds = dict(_kinds(arg_specs))
    largs = [to_layout(args[n], kinds[n], layout) for n, _ in _kinds(arg_specs)]
    c = Call(lo, fname, *largs)
    if c.stub:
        return {"status": "not implemented", "why": c.stub}
    if c.raised:
        return {"status": "fail", "raises": c.raised}
    if c.returned_none:
        return {"status": "fail", "returns": "None (the function has no return statement), expected %s, cache"
                % ", ".join(s.split(":")[0] for s in out_specs)}
    res = c.result if isinstance(c.result, tuple) else (c.result,)
    want = ref(*[args[n] for n, _ in _kinds(arg_specs)])
    outs = {}
    for k, (oname, okind) in enumerate(_kinds(out_specs)):
        got = res[k] if k < len(res) else None
        outs[oname] = compare(got, to_layout(want[k], okind, layout))
    ok = all(o["ok"] for o in outs.values()) and len(res) == len(out_specs) + 1
    rec = {"status": "pass" if ok else "fail", "outputs": outs}
    if len(res) != len(out_specs) + 1:
        rec["returns"] = "%d values, expected %d" % (len(res), len(out_specs) + 1)
    return rec


def cs_backward(lo, fname, d, layout, done):
    fwd, up_specs, ref_grads, out_specs = CS_BACKWARD[fname]
    arg_specs, fout_specs, _, _ = CS_FORWARD[fwd]
    args = cs_args(fwd, d)
    kinds = dict(_kinds(arg_specs))
    order = [n for n, _ in _kinds(arg_specs)]
    ups = [to_layout(u, k, layout) for u, (_, k) in zip(cs_upstream(fname, d), _kinds(up_specs))]
    fstat = done.get(fwd, {}).get("status")
    if fstat != "pass":
        # a stub is a stub whatever its forward does
        probe = Call(lo, fname, *ups, None)
        if probe.stub:
            return {"status": "not implemented", "why": probe.stub}
        return {"status": "not checked", "why": "%s does not pass (%s)" % (fwd, fstat)}
    largs = {n: to_layout(args[n], kinds[n], layout) for n in order}
    fc = Call(lo, fwd, *[largs[n] for n in order])
    cache = fc.result[-1]
    c = Call(lo, fname, *ups, cache)
    if c.stub:
        return {"status": "not implemented", "why": c.stub}
    if c.raised:
        return {"status": "fail", "raises": c.raised}
    res = c.result if isinstance(c.result, tuple) else (c.result,)
    want = ref_grads(cs_upstream(fname, d), *[args[n] for n in order])
    n_fout = len(fout_specs)

    def loss():
        with contextlib.redirect_stdout(io.StringIO()):
            out = lo.fn(fwd)(*[largs[n] for n in order])
        return sum(np.sum(out[k] * ups[k]) for k in range(n_fout))

    outs = {}
    for k, spec in enumerate(out_specs):
        oname, okind, arg = spec.split(":")
        got = res[k] if k < len(res) else None
        rec = compare(got, to_layout(want[k], okind, layout))
        if got is not None and hasattr(got, "shape") and np.size(got) == largs[arg].size:
            g = num_grad(loss, largs[arg])
            rec["vs_finite_diff"] = fmt(err(np.reshape(got, g.shape), g))
        outs[oname] = rec
    ok = all(o["ok"] for o in outs.values()) and len(res) == len(out_specs)
    rec = {"status": "pass" if ok else "fail", "outputs": outs}
    if len(res) != len(out_specs):
        rec["returns"] = "%d values, expected %d" % (len(res), len(out_specs))
    return rec


def cs_softmax(lo, d, layout):
    f = lo.fn("temporal_softmax_loss")
    has_mask = "mask" in inspect.signature(f).parameters
    mask = d["mask"] if has_mask else np.ones_like(d["mask"])
    x = to_layout(d["scores"], "seq", layout)
    y = to_layout(d["y"], "seq", layout)
    m = to_layout(mask, "seq", layout)
    args = [x, y, m] if has_mask else [x, y]
    c = Call(lo, "temporal_softmax_loss", *args)
    if c.stub:
        return {"status": "not implemented", "why": c.stub}
    if c.raised:
        return {"status": "fail", "raises": c.raised}
    loss, dx = c.result
    rl, rdx = Cs231nRef.softmax_loss(d["scores"], d["y"], mask)
    outs = {"loss": compare(loss, rl), "dx": compare(dx, to_layout(rdx, "seq", layout))}

    def L():
        with contextlib.redirect_stdout(io.StringIO()):
            return f(*args)[0]

    if np.shape(dx) == x.shape:
        outs["dx"]["vs_finite_diff"] = fmt(err(dx, num_grad(L, x)))
    rec = {"status": "pass" if all(o["ok"] for o in outs.values()) else "fail", "outputs": outs}
    if not has_mask:
        rec["called_as"] = "temporal_softmax_loss(x, y): the file's loss has no mask parameter"
    return rec


def self_test_cs231n():
    """Every reference gradient against finite differences of the reference forward."""
    d = cs_data(3)
    worst = 0.0
    for fname, (fwd, _, ref_grads, out_specs) in CS_BACKWARD.items():
        arg_specs, fout_specs, ref, _ = CS_FORWARD[fwd]
        args = cs_args(fwd, d)
        order = [n for n, _ in _kinds(arg_specs)]
        ups = cs_upstream(fname, d)
        want = ref_grads(ups, *[args[n] for n in order])
        for k, spec in enumerate(out_specs):
            arg = spec.split(":")[2]
            g = num_grad(lambda: sum(np.sum(o * u) for o, u in zip(ref(*[args[n] for n in order]), ups)), args[arg])
            worst = max(worst, err(want[k], g))
    rl, rdx = Cs231nRef.softmax_loss(d["scores"], d["y"], d["mask"])
    worst = max(worst, err(rdx, num_grad(lambda: Cs231nRef.softmax_loss(d["scores"], d["y"], d["mask"])[0], d["scores"])))
    assert worst < FD_TOL, worst
    return worst


def cs_summary(funcs):
    """Exit status a grader should get, and the wrong outputs per function."""
    learner = [f for f in CS_ORDER if f not in CS_PROVIDED]
    implemented = [f for f in CS_ORDER if funcs[f]["status"] in ("pass", "fail", "not checked")]
    ok = any(f in implemented for f in learner) and all(funcs[f]["status"] == "pass" for f in implemented)
    wrong = {f: [o for o, r in funcs[f].get("outputs", {}).items() if not r["ok"]]
             for f in CS_ORDER if funcs[f]["status"] == "fail"}
    return (0 if ok else 1), {f: w for f, w in wrong.items() if w}


def condensed(funcs):
    """One line per function: how it fares (for the layouts a file is not written in)."""
    out = {}
    for f, r in funcs.items():
        s = r["status"]
        if "raises" in r:
            s += ": raises " + r["raises"]
        elif "returns" in r and s == "fail" and "outputs" not in r:
            s += ": returns " + r["returns"]
        elif s == "fail":
            s += ": wrong " + ", ".join(o for o, v in r["outputs"].items() if not v["ok"])
        out[f] = s
    return out


FILES_REAL = [
    dict(file="py2_correct.py", layout="coursework", python2=True, vintage="2016-17", mistake=None,
         note="Right. Python 2 era (2-space indents, xrange in the loops, a print statement at the top "
              "and the starter's `if verbose: print 'dx_flat: ', ...` in temporal_softmax_loss); "
              "with print read as a call and xrange as range every function passes."),
    dict(file="py2_mistake_tanh_of_tanh_c.py", layout="coursework", python2=True, vintage="2016-17",
         mistake="lstm_tanh_of_tanh_c",
         note="Python 2 era; lstm_step_backward takes the derivative of tanh at tanh(c): "
              "dc = dnext_c + dnext_h * o * (1 - np.tanh(tc)**2) with tc = np.tanh(next_c) already. "
              "Everything else is right."),
    dict(file="py2_intdiv.py", layout="coursework", python2=True, vintage="2016-17", mistake="py2_int_division",
         note="Python 2 era and right under Python 2, where `/` on two ints floors: "
              "`H = b.shape[0] / 4` (lstm_step_forward, a slice bound) and `H = H4 / 4` (lstm_forward, "
              "an array size). In Python 3 both give floats and the functions raise TypeError; "
              "the fix is `//`."),
    dict(file="notebook_correct.ipynb", layout="coursework", python2=False, vintage=None, mistake=None,
         note="Colab notebook, every layer in a code cell (magics `!pip install`, `%matplotlib inline`, "
              "`%load_ext autoreload`), markdown between, outputs of the learner's own checks; right."),
    dict(file="notebook_mistake_dprev_c.ipynb", layout="coursework", python2=False, vintage=None,
         mistake="lstm_dprev_c_is_dc",
         mistake_at={"cell_index": 13, "code_cell": 9, "line": 22, "text": "    dprev_c = dc"},
         note="The same notebook with dprev_c = dc instead of dc * f in lstm_step_backward "
              "(code cell 9, line 22 of that cell; cells[13] of the JSON). The learner's own check "
              "printed dc error 0.95 and the lstm_backward check cell was never re-run."),
    dict(file="starter_untouched_new.py", layout="coursework", python2=False, vintage="2019+",
         mistake=None,
         note="The newer starter, untouched: `from __future__`/`from builtins import range`, each of the "
              "10 learner functions is None placeholders + TODO frame + START/END markers around `pass`, "
              "and returns the Nones; sigmoid and the temporal affine pair and softmax loss are given "
              "implemented. Nothing done yet: not a pass."),
    dict(file="starter_untouched_2016.py", layout="coursework", python2=True, vintage="2016-17",
         mistake=None,
         note="The 2016-17 starter, untouched (Python 2): stubs return their None placeholders, except "
              "lstm_step_backward, whose placeholders are dx, dh, dc, ... but whose return names "
              "dprev_h, dprev_c: calling it raises NameError. Not implemented, not failed."),
    dict(file="partial_steps_only.py", layout="coursework", python2=False, vintage="2019+", mistake=None,
         note="Newer starter with the four step functions done (right); the sequence functions and the "
              "word embedding are still the starter's stubs. Everything implemented passes."),
    dict(file="keepdims_db.py", layout="coursework", python2=False, vintage="2019+", mistake="keepdims",
         note="lstm_step_backward: db = np.sum(dA, axis=0, keepdims=True), shape (1, 24) instead of (24,), "
              "values right; lstm_backward accumulates into np.zeros((1, 4 * H)) so its db is (1, 24) too. "
              "Fix: drop keepdims (or .ravel())."),
    dict(file="time_major.py", layout="time-major", python2=False, vintage=None, mistake=None,
         other_layouts=["coursework", "unbatched"],
         note="A course's time-major version: x (T, N, D), h (T, N, H), captions (T, N); step functions "
              "unchanged. Right in that layout."),
    dict(file="unbatched.py", layout="unbatched", python2=False, vintage=None, mistake=None,
         other_layouts=["coursework", "time-major"],
         note="Adapted to one sequence, no batch axis: steps on vectors x (D,), h (H,); sequences "
              "x (T, D), h (T, H); loss over one sequence (no division). Right in that layout."),
    dict(file="forward_returns_none.py", layout="coursework", python2=False, vintage="2019+",
         mistake="forward_returns_none",
         note="lstm_forward computes h and the caches but its `return h, cache` line was deleted, so it "
              "returns None; lstm_backward is still the starter's stub. Everything else right."),
    dict(file="stale_import.py", layout="coursework", python2=False, vintage="2019+", mistake=None,
         note="Right, but line 4 `from numpy.lib.function_base import average` (an IDE auto-import, "
              "never used) fails on NumPy 2 (ModuleNotFoundError); without that line every function passes."),
    dict(file="softmax_no_mask.py", layout="coursework", python2=False, vintage="2019+", mistake=None,
         note="Right; this course's temporal_softmax_loss(x, y, verbose=False) has no mask (every sequence "
              "full length): called as (x, y) it matches the reference with an all-ones mask."),
]


def measure_real(entry):
    path = HERE / "real" / entry["file"]
    py2 = entry["python2"]
    lo = Loaded(path, python2=py2)
    funcs = cs_measure_file(lo, entry["layout"])
    for f in CS_PROVIDED:
        funcs[f]["provided_by_starter"] = True
    code, wrong = cs_summary(funcs)
    rec = {"file": entry["file"], "api": "cs231n rnn_layers.py", "layout": entry["layout"],
           "python2": py2, "vintage": entry["vintage"], "mistake": entry["mistake"]}
    if "mistake_at" in entry:
        rec["mistake_at"] = entry["mistake_at"]
    if py2:
        try:
            compile(path.read_text(), entry["file"], "exec")
        except SyntaxError as e:
            rec["as_python3"] = "SyntaxError on line %d: %s" % (e.lineno, e.msg)
        rec["python2_print_statements"] = lo.print_lines
    if lo.source.magics:
        rec["magics_and_shell_lines"] = lo.source.magics
    rec["not_loaded"] = lo.skipped
    rec["functions"] = funcs
    rec["wrong_outputs"] = wrong
    rec["exit_status"] = code
    if py2:
        lo2 = Loaded(path, python2=True, py2_division=True)
        funcs2 = cs_measure_file(lo2, entry["layout"])
        code2, _ = cs_summary(funcs2)
        rec["python2_division"] = {
            "integer_division_lines": sorted(lo2.int_division_lines),
            "same_results": condensed(funcs2) == condensed(funcs),
        }
        if condensed(funcs2) != condensed(funcs):
            rec["python2_division"]["functions"] = condensed(funcs2)
            rec["python2_division"]["exit_status"] = code2
    for other in entry.get("other_layouts", []):
        rec.setdefault("in_other_layouts", {})[other] = condensed(cs_measure_file(lo, other))
    rec["note"] = entry["note"]
    return rec


# =========================================================================== deeplearning.ai
# "Building a Recurrent Neural Network - Step by Step": feature-major, time last, a parameters
# dict, gates f, i, c~, o on concat = [a_prev; xt] (hidden state first), gradients as dicts.

def dl_softmax(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


DL_SUPPLY = {"softmax": dl_softmax, "sigmoid": sigmoid}     # what rnn_utils gives the learner
DL_GATES = ["f", "i", "c", "o"]


class DlaiRef:
    @staticmethod
    def rnn_cell(xt, a_prev, p):
        a = np.tanh(p["Wax"] @ xt + p["Waa"] @ a_prev + p["ba"])
        return a, dl_softmax(p["Wya"] @ a + p["by"])

    @staticmethod
    def rnn_cell_grads(da_next, xt, a_prev, p):
        a, _ = DlaiRef.rnn_cell(xt, a_prev, p)
        dz = da_next * (1 - a ** 2)
        return {"dxt": p["Wax"].T @ dz, "da_prev": p["Waa"].T @ dz, "dWax": dz @ xt.T,
                "dWaa": dz @ a_prev.T, "dba": dz.sum(1, keepdims=True)}

    @staticmethod
    def rnn(x, a0, p):
        a, y, prev = [], [], a0
        for t in range(x.shape[2]):
            prev, yt = DlaiRef.rnn_cell(x[:, :, t], prev, p)
            a.append(prev)
            y.append(yt)
        return np.stack(a, 2), np.stack(y, 2)

    @staticmethod
    def rnn_grads(da, x, a0, p):
        a, _ = DlaiRef.rnn(x, a0, p)
        g = {"dx": np.zeros_like(x), "dWax": 0, "dWaa": 0, "dba": 0}
        carry = np.zeros_like(a0)
        for t in reversed(range(da.shape[2])):
            prev = a[:, :, t - 1] if t else a0
            s = DlaiRef.rnn_cell_grads(da[:, :, t] + carry, x[:, :, t], prev, p)
            g["dx"][:, :, t] = s["dxt"]
            for k in ("dWax", "dWaa", "dba"):
                g[k] = g[k] + s[k]
            carry = s["da_prev"]
        g["da0"] = carry
        return g

    @staticmethod
    def _cell(xt, a_prev, c_prev, p):
        z = np.concatenate([a_prev, xt], 0)
        f = sigmoid(p["Wf"] @ z + p["bf"])
        i = sigmoid(p["Wi"] @ z + p["bi"])
        cc = np.tanh(p["Wc"] @ z + p["bc"])
        o = sigmoid(p["Wo"] @ z + p["bo"])
        c = f * c_prev + i * cc
        return z, f, i, cc, o, c, o * np.tanh(c)

    @staticmethod
    def lstm_cell(xt, a_prev, c_prev, p):
        z, f, i, cc, o, c, a = DlaiRef._cell(xt, a_prev, c_prev, p)
        return a, c, dl_softmax(p["Wy"] @ a + p["by"])

    @staticmethod
    def lstm_cell_grads(da_next, dc_next, xt, a_prev, c_prev, p):
        z, f, i, cc, o, c, a = DlaiRef._cell(xt, a_prev, c_prev, p)
        n_a = a_prev.shape[0]
        tc = np.tanh(c)
        dc = dc_next + da_next * o * (1 - tc ** 2)
        pre = {"f": dc * c_prev * f * (1 - f), "i": dc * cc * i * (1 - i),
               "c": dc * i * (1 - cc ** 2), "o": da_next * tc * o * (1 - o)}
        g = {"dc_prev": dc * f}
        g["da_prev"] = sum(p["W" + k][:, :n_a].T @ pre[k] for k in DL_GATES)
        g["dxt"] = sum(p["W" + k][:, n_a:].T @ pre[k] for k in DL_GATES)
        for k in DL_GATES:
            g["dW" + k] = pre[k] @ z.T
            g["db" + k] = pre[k].sum(1, keepdims=True)
        return g

    @staticmethod
    def lstm(x, a0, p):
        a, y, c = [], [], []
        prev, cp = a0, np.zeros_like(a0)
        for t in range(x.shape[2]):
            prev, cp, yt = DlaiRef.lstm_cell(x[:, :, t], prev, cp, p)
            a.append(prev)
            c.append(cp)
            y.append(yt)
        return np.stack(a, 2), np.stack(y, 2), np.stack(c, 2)

    @staticmethod
    def lstm_grads(da, x, a0, p, carry=True):
        """carry=False: the backward that never passes da_prev / dc_prev to step t-1."""
        T = da.shape[2]
        a_s, c_s, prev, cp = [a0], [np.zeros_like(a0)], a0, np.zeros_like(a0)
        for t in range(T):
            prev, cp, _ = DlaiRef.lstm_cell(x[:, :, t], prev, cp, p)
            a_s.append(prev)
            c_s.append(cp)
        g = {"dx": np.zeros(x.shape[:2] + (T,))}
        dac, dcc = np.zeros_like(a0), np.zeros_like(a0)
        for t in reversed(range(T)):
            s = DlaiRef.lstm_cell_grads(da[:, :, t] + dac, dcc, x[:, :, t], a_s[t], c_s[t], p)
            g["dx"][:, :, t] = s["dxt"]
            for k in DL_GATES:
                for w in ("dW", "db"):
                    g[w + k] = g.get(w + k, 0) + s[w + k]
            if carry:
                dac, dcc = s["da_prev"], s["dc_prev"]
            last = s
        g["da0"] = dac if carry else last["da_prev"]
        return g


def dl_data(seed=0):
    """n_x=3, n_a=5, n_y=2, m=4, T_x=6."""
    n_x, n_a, n_y, m, T = 3, 5, 2, 4, 6
    r = np.random.default_rng(seed)
    d = {"xt": r.standard_normal((n_x, m)), "a_prev": 0.5 * r.standard_normal((n_a, m)),
         "c_prev": 0.5 * r.standard_normal((n_a, m)), "x": r.standard_normal((n_x, m, T)),
         "a0": 0.5 * r.standard_normal((n_a, m)),
         "rnn": {"Wax": 0.5 * r.standard_normal((n_a, n_x)), "Waa": 0.5 * r.standard_normal((n_a, n_a)),
                 "Wya": r.standard_normal((n_y, n_a)), "ba": 0.1 * r.standard_normal((n_a, 1)),
                 "by": 0.1 * r.standard_normal((n_y, 1))},
         "lstm": {}, "da_next": r.standard_normal((n_a, m)), "dc_next": r.standard_normal((n_a, m)),
         "da": r.standard_normal((n_a, m, T))}
    for k in DL_GATES:
        d["lstm"]["W" + k] = 0.5 * r.standard_normal((n_a, n_a + n_x))
        d["lstm"]["b" + k] = 0.1 * r.standard_normal((n_a, 1))
    d["lstm"]["Wy"] = r.standard_normal((n_y, n_a))
    d["lstm"]["by"] = 0.1 * r.standard_normal((n_y, 1))
    return d


DL_ORDER = ["rnn_cell_forward", "rnn_forward", "lstm_cell_forward", "lstm_forward",
            "rnn_cell_backward", "rnn_backward", "lstm_cell_backward", "lstm_backward"]


def _copy_params(p):
    return {k: v.copy() for k, v in p.items()}


def dl_measure_file(lo):
    d = dl_data()
    res = {}
    # forwards: (arguments, which parameters, output names, reference)
    fwd = {
        "rnn_cell_forward": (lambda p: [d["xt"].copy(), d["a_prev"].copy(), p], "rnn",
                             ["a_next", "yt_pred"], lambda p: DlaiRef.rnn_cell(d["xt"], d["a_prev"], p)),
        "rnn_forward": (lambda p: [d["x"].copy(), d["a0"].copy(), p], "rnn",
                        ["a", "y_pred"], lambda p: DlaiRef.rnn(d["x"], d["a0"], p)),
        "lstm_cell_forward": (lambda p: [d["xt"].copy(), d["a_prev"].copy(), d["c_prev"].copy(), p], "lstm",
                              ["a_next", "c_next", "yt_pred"],
                              lambda p: DlaiRef.lstm_cell(d["xt"], d["a_prev"], d["c_prev"], p)),
        "lstm_forward": (lambda p: [d["x"].copy(), d["a0"].copy(), p], "lstm",
                         ["a", "y", "c"], lambda p: DlaiRef.lstm(d["x"], d["a0"], p)),
    }
    for name, (mk, which, outs, ref) in fwd.items():
        if lo.fn(name) is None:
            res[name] = {"status": "missing"}
            continue
        p = _copy_params(d[which])
        c = Call(lo, name, *mk(p))
        if c.stub:
            res[name] = {"status": "not implemented", "why": c.stub}
            continue
        if c.raised:
            res[name] = {"status": "fail", "raises": c.raised}
            continue
        want = ref(d[which])
        rec = {o: compare(c.result[k], want[k]) for k, o in enumerate(outs)}
        res[name] = {"status": "pass" if all(r["ok"] for r in rec.values()) else "fail", "outputs": rec}
    # backwards: (forward, its arguments (name -> array), upstream, forward outputs in the loss, reference)
    bwd = {
        "rnn_cell_backward": ("rnn_cell_forward", "rnn", ["xt", "a_prev"], ["da_next"],
                              {"dxt": "xt", "da_prev": "a_prev", "dWax": "Wax", "dWaa": "Waa", "dba": "ba"},
                              lambda p: DlaiRef.rnn_cell_grads(d["da_next"], d["xt"], d["a_prev"], p)),
        "rnn_backward": ("rnn_forward", "rnn", ["x", "a0"], ["da"],
                         {"dx": "x", "da0": "a0", "dWax": "Wax", "dWaa": "Waa", "dba": "ba"},
                         lambda p: DlaiRef.rnn_grads(d["da"], d["x"], d["a0"], p)),
        "lstm_cell_backward": ("lstm_cell_forward", "lstm", ["xt", "a_prev", "c_prev"], ["da_next", "dc_next"],
                               dict({"dxt": "xt", "da_prev": "a_prev", "dc_prev": "c_prev"},
                                    **{w + k: w[1:] + k for k in DL_GATES for w in ("dW", "db")}),
                               lambda p: DlaiRef.lstm_cell_grads(d["da_next"], d["dc_next"], d["xt"],
                                                                 d["a_prev"], d["c_prev"], p)),
        "lstm_backward": ("lstm_forward", "lstm", ["x", "a0"], ["da"],
                          dict({"dx": "x", "da0": "a0"}, **{w + k: w[1:] + k for k in DL_GATES for w in ("dW", "db")}),
                          lambda p: DlaiRef.lstm_grads(d["da"], d["x"], d["a0"], p)),
    }
    for name, (fname, which, arg_names, up_names, wrt, ref) in bwd.items():
        if lo.fn(name) is None:
            res[name] = {"status": "missing"}
            continue
        ups = [d[u].copy() for u in up_names]
        if res[fname]["status"] != "pass":
            probe = Call(lo, name, *ups, None)
            res[name] = ({"status": "not implemented", "why": probe.stub} if probe.stub else
                         {"status": "not checked", "why": "%s does not pass" % fname})
            continue
        p = _copy_params(d[which])
        args = [d[a].copy() for a in arg_names] + [p]
        cache = Call(lo, fname, *args).result[-1]
        c = Call(lo, name, *(ups + [cache]))
        if c.stub:
            res[name] = {"status": "not implemented", "why": c.stub}
            continue
        if c.raised:
            res[name] = {"status": "fail", "raises": c.raised}
            continue
        want = ref(d[which])
        arrays = dict(zip(arg_names, args[:-1]), **p)
        n_up = len(ups)

        def loss():
            with contextlib.redirect_stdout(io.StringIO()):
                out = lo.fn(fname)(*args)
            return sum(np.sum(out[[0, 1][k]] * ups[k]) for k in range(n_up)) if fname.startswith("lstm_cell") \
                else np.sum(out[0] * ups[0])

        rec = {}
        for key, arg in wrt.items():
            got = c.result.get(key) if isinstance(c.result, dict) else None
            if got is None:
                rec[key] = {"ok": False, "got": "no key %r in the returned dict" % key}
                continue
            r = compare(got, want[key])
            if np.size(got) == arrays[arg].size:
                g = num_grad(loss, arrays[arg])
                r["vs_finite_diff"] = fmt(err(np.reshape(got, g.shape), g))
            rec[key] = r
        res[name] = {"status": "pass" if all(r["ok"] for r in rec.values()) else "fail", "outputs": rec}
        if name == "lstm_backward":
            nc = DlaiRef.lstm_grads(d["da"], d["x"], d["a0"], d["lstm"], carry=False)
            res[name]["equals_no_carry_backward"] = all(
                k in c.result and np.shape(c.result[k]) == np.shape(nc[k]) and err(c.result[k], nc[k]) <= REF_TOL
                for k in nc)
    return {n: res[n] for n in DL_ORDER}


def dl_old_notebook_case(lo):
    """What the file's lstm_backward prints on the test cell of the pre-2021 notebook: seed 1,
    x (3, 10, 7), a0 (5, 10), W* (5, 8), b* (5, 1) drawn f, i, o, c; Wy, by left over from an
    earlier cell (they do not reach the gradients); da (5, 10, 4), so only 4 of the 7 steps."""
    rs = np.random.RandomState(1)
    x = rs.randn(3, 10, 7)
    a0 = rs.randn(5, 10)
    p = {}
    for k in ("f", "i", "o", "c"):
        p["W" + k] = rs.randn(5, 5 + 3)
        p["b" + k] = rs.randn(5, 1)
    p["Wy"], p["by"] = np.ones((2, 5)), np.zeros((2, 1))
    fc = Call(lo, "lstm_forward", x, a0, p)
    if fc.stub or fc.raised or fc.returned_none:
        return None
    da = rs.randn(5, 10, 4)
    c = Call(lo, "lstm_backward", da, fc.result[-1])
    if c.stub or c.raised or not isinstance(c.result, dict):
        return None
    g = c.result
    picks = {"dx[1][2]": ("dx", (1, 2)), "da0[2][3]": ("da0", (2, 3)), "dWf[3][1]": ("dWf", (3, 1)),
             "dWi[1][2]": ("dWi", (1, 2)), "dWc[3][1]": ("dWc", (3, 1)), "dWo[1][2]": ("dWo", (1, 2)),
             "dbf[4]": ("dbf", (4,)), "dbi[4]": ("dbi", (4,)), "dbc[4]": ("dbc", (4,)), "dbo[4]": ("dbo", (4,))}
    out = {}
    for label, (k, ix) in picks.items():
        v = np.asarray(g[k])[ix]
        out[label] = [float("%.8g" % e) for e in np.ravel(v)]
    return out


def self_test_dlai():
    d = dl_data()
    worst = 0.0
    for which, grads, fwd, arrays, ups in [
        ("rnn", lambda p: DlaiRef.rnn_cell_grads(d["da_next"], d["xt"], d["a_prev"], p),
         lambda p: [DlaiRef.rnn_cell(d["xt"], d["a_prev"], p)[0]], {"dxt": d["xt"], "da_prev": d["a_prev"]}, ["da_next"]),
        ("rnn", lambda p: DlaiRef.rnn_grads(d["da"], d["x"], d["a0"], p),
         lambda p: [DlaiRef.rnn(d["x"], d["a0"], p)[0]], {"dx": d["x"], "da0": d["a0"]}, ["da"]),
        ("lstm", lambda p: DlaiRef.lstm_cell_grads(d["da_next"], d["dc_next"], d["xt"], d["a_prev"], d["c_prev"], p),
         lambda p: DlaiRef.lstm_cell(d["xt"], d["a_prev"], d["c_prev"], p)[:2],
         {"dxt": d["xt"], "da_prev": d["a_prev"], "dc_prev": d["c_prev"]}, ["da_next", "dc_next"]),
        ("lstm", lambda p: DlaiRef.lstm_grads(d["da"], d["x"], d["a0"], p),
         lambda p: [DlaiRef.lstm(d["x"], d["a0"], p)[0]], {"dx": d["x"], "da0": d["a0"]}, ["da"]),
    ]:
        p = d[which]
        g = grads(p)
        L = lambda: sum(np.sum(o * d[u]) for o, u in zip(fwd(p), ups))
        targets = dict(arrays, **{"d" + k: v for k, v in p.items() if k not in ("Wya", "Wy", "by")})
        for key, arr in targets.items():
            worst = max(worst, err(g[key], num_grad(L, arr)))
    assert worst < FD_TOL, worst
    return worst


def dl_summary(funcs):
    """Exit status: every function here is the learner's to write (no starter-provided ones)."""
    implemented = [f for f in DL_ORDER if funcs[f]["status"] in ("pass", "fail", "not checked")]
    ok = bool(implemented) and all(funcs[f]["status"] == "pass" for f in implemented)
    wrong = {f: [o for o, r in funcs[f].get("outputs", {}).items() if not r["ok"]]
             for f in DL_ORDER if funcs[f]["status"] == "fail"}
    return (0 if ok else 1), {f: w for f, w in wrong.items() if w}


FILES_DLAI = [
    dict(file="correct.py", mistake=None,
         note="Right, all eight functions (the backward part too); T_x taken from da as the notebook does."),
    dict(file="correct.ipynb", mistake=None,
         note="The same code as a notebook: markdown, one code cell per function, the learner's test cells "
              "(np.random.seed(1) cases, printed values, calls of public_tests' checks, absent here) with outputs. Right."),
    dict(file="mistake_dc_no_h_path.py", mistake="dlai_dc_no_h_path",
         note="lstm_cell_backward: dc = dc_next, without da_next * ot * (1 - tanh(c_next)**2): dcct, dit, dft "
              "and dc_prev wrong (dot right, so dWo, dbo right in the cell); in lstm_backward, which starts from "
              "dc = 0, the f, i and c~ gradients come out exactly zero."),
    dict(file="mistake_sigmoid_of_activated_gates.py", mistake="dlai_sigmoid_of_activated",
         note="lstm_cell_backward applies sigmoid(z)(1 - sigmoid(z)) to the already-activated ft, it, ot: "
              "dft, dit, dot wrong (dcct and dc_prev right), so dWf, dbf, dWi, dbi, dWo, dbo, dxt, da_prev wrong; "
              "dWc, dbc, dc_prev right in the cell."),
    dict(file="mistake_lstm_backward_no_carry.py", mistake="dlai_lstm_backward_no_carry",
         note="lstm_backward calls lstm_cell_backward(da[:, :, t], dc_prevt, ...) with da_prevt and dc_prevt never "
              "updated (zeros): the backward whose results the pre-2021 notebook printed as expected. "
              "The cell backward is right."),
    dict(file="mistake_lstm_backward_no_carry.ipynb", mistake="dlai_lstm_backward_no_carry",
         mistake_at={"cell_index": 24, "code_cell": 16, "line": 31,
                     "text": "        gradients = lstm_cell_backward(da[:, :, t], dc_prevt, caches[t])"},
         note="The no-carry lstm_backward in a notebook (code cell 16, line 31; cells[24]); its last test cell "
              "prints exactly the values the pre-2021 notebook gave as expected output for dx, da0, dWf, dWi, "
              "dWc, dWo and dbf."),
    dict(file="mistake_dxt_wrong_slice.py", mistake="dlai_dxt_wrong_slice",
         note="lstm_cell_backward takes dxt from W[:, :n_x] (the a_prev columns) instead of W[:, n_a:]: "
              "concat is [a_prev; xt], hidden state first. Only dxt (and lstm_backward's dx) wrong."),
    dict(file="mistake_rnn_da_prev_not_transposed.py", mistake="dlai_rnn_da_prev_not_transposed",
         note="rnn_cell_backward: da_prev = np.dot(Waa, dtanh) without the transpose (Waa is square, so no "
              "shape error); only da_prev wrong in the cell, every rnn_backward output wrong (dx right only "
              "at the last step)."),
]


def measure_dlai(entry):
    path = HERE / "dlai" / entry["file"]
    lo = Loaded(path, supply=DL_SUPPLY)
    funcs = dl_measure_file(lo)
    code, wrong = dl_summary(funcs)
    rec = {"file": entry["file"], "api": "deeplearning.ai Sequence Models week 1 (Building a RNN Step by Step)",
           "layout": "feature-major (n_x, m, T_x), parameters dict, gradient dicts", "python2": False,
           "mistake": entry["mistake"]}
    for k in ("mistake_at",):
        if k in entry:
            rec[k] = entry[k]
    rec["supplied_helpers"] = "softmax (over axis 0) and sigmoid, as rnn_utils gives them; rnn_utils and public_tests absent"
    if lo.source.magics:
        rec["magics_and_shell_lines"] = lo.source.magics
    rec["not_loaded"] = lo.skipped
    rec["functions"] = funcs
    rec["wrong_outputs"] = wrong
    rec["exit_status"] = code
    rec["old_notebook_test_cell"] = dl_old_notebook_case(lo)
    rec["note"] = entry["note"]
    return rec


# =========================================================================== min-char-rnn
# lossFun(inputs, targets, hprev) over module globals Wxh (H, V), Whh (H, H), Why (V, H),
# bh (H, 1), by (V, 1); column vectors, one sequence, loss summed over it, gradients clipped.

MC_PARAMS = ["Wxh", "Whh", "Why", "bh", "by"]


def mc_data(seed=0):
    """V=7, H=5, sequences of 6; weights large enough for gradients of order 0.1-1, far from the clip at 5."""
    V, H, T = 7, 5, 6
    r = np.random.default_rng(seed)
    return {"vocab_size": V, "hidden_size": H,
            "Wxh": 0.5 * r.standard_normal((H, V)), "Whh": 0.5 * r.standard_normal((H, H)),
            "Why": 0.5 * r.standard_normal((V, H)), "bh": 0.1 * r.standard_normal((H, 1)),
            "by": 0.1 * r.standard_normal((V, 1)),
            "inputs": [int(i) for i in r.integers(0, V, T)], "targets": [int(i) for i in r.integers(0, V, T)],
            "hprev": 0.5 * r.standard_normal((H, 1))}


def mc_ref(d, inputs, targets, hprev):
    """The reference lossFun: loss, gradients (unclipped), last hidden state."""
    V = d["vocab_size"]
    hs, ps = {-1: hprev}, {}
    loss = 0.0
    for t, ix in enumerate(inputs):
        hs[t] = np.tanh(d["Wxh"][:, [ix]] + d["Whh"] @ hs[t - 1] + d["bh"])
        y = d["Why"] @ hs[t] + d["by"]
        ps[t] = np.exp(y - y.max()) / np.exp(y - y.max()).sum()
        loss -= np.log(ps[t][targets[t], 0])
    g = {k: np.zeros_like(d[k]) for k in MC_PARAMS}
    dnext = np.zeros_like(hprev)
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        g["Why"] += dy @ hs[t].T
        g["by"] += dy
        draw = (1 - hs[t] ** 2) * (d["Why"].T @ dy + dnext)
        g["bh"] += draw
        g["Wxh"][:, [inputs[t]]] += draw
        g["Whh"] += draw @ hs[t - 1].T
        dnext = d["Whh"].T @ draw
    return loss, g, hs[len(inputs) - 1]


def mc_measure_length(lo, d, L):
    inputs, targets = d["inputs"][:L], d["targets"][:L]
    for k in MC_PARAMS:
        lo.ns[k][...] = d[k]
    c = Call(lo, "lossFun", inputs, targets, d["hprev"].copy())
    if c.stub or c.raised or c.returned_none:
        return {"status": "fail", "raises": c.raised or c.stub or "returns None"}
    loss, dWxh, dWhh, dWhy, dbh, dby, hlast = c.result
    got = dict(zip(MC_PARAMS, (dWxh, dWhh, dWhy, dbh, dby)))
    rl, rg, rh = mc_ref(d, inputs, targets, d["hprev"])

    def f():
        with contextlib.redirect_stdout(io.StringIO()):
            return lo.fn("lossFun")(inputs, targets, d["hprev"].copy())[0]

    outs = {"loss": compare(loss, rl)}
    for k in MC_PARAMS:
        r = compare(got[k], rg[k])
        r["vs_finite_diff"] = fmt(err(got[k], num_grad(f, lo.ns[k])))
        outs["d" + k] = r
    outs["hs[len(inputs)-1]"] = compare(hlast, rh)
    largest = max(float(np.max(np.abs(v))) for v in rg.values())
    return {"status": "pass" if all(o["ok"] for o in outs.values()) else "fail", "outputs": outs,
            "largest_reference_gradient": fmt(largest)}


def measure_minchar(entry):
    path = HERE / "minchar" / entry["file"]
    d = mc_data()
    supply = {k: (d[k].copy() if isinstance(d[k], np.ndarray) else d[k])
              for k in ["vocab_size", "hidden_size"] + MC_PARAMS}
    lo = Loaded(path, python2=entry["python2"])
    # the file's own top level could not make its weights (no input.txt): the checker's sizes instead
    for k, v in supply.items():
        lo.ns[k] = v.copy() if isinstance(v, np.ndarray) else v
    reads = sorted(set(lo.fn("lossFun").__code__.co_names) & set(supply))
    T = len(d["inputs"])
    by_len = {L: mc_measure_length(lo, d, L) for L in range(1, T + 1)}
    full = by_len[T]
    wrong_at = {L: sorted(o for o, r in m.get("outputs", {}).items() if not r["ok"]) for L, m in by_len.items()}
    failing = [L for L, m in by_len.items() if m["status"] != "pass"]
    rec = {"file": entry["file"], "api": "min-char-rnn lossFun(inputs, targets, hprev)", "python2": entry["python2"],
           "mistake": entry["mistake"]}
    try:
        compile(path.read_text(), entry["file"], "exec")
    except SyntaxError as e:
        rec["as_python3"] = "SyntaxError on line %d: %s" % (e.lineno, e.msg)
    rec["python2_print_statements"] = lo.print_lines
    rec["not_loaded"] = lo.skipped
    rec["supplied_globals"] = {k: (list(v.shape) if isinstance(v, np.ndarray) else v) for k, v in supply.items()}
    rec["lossFun_reads_globals"] = reads
    rec["sequence_length"] = T
    rec["parameters"] = {("d" + k): full["outputs"]["d" + k]["ok"] for k in MC_PARAMS}
    rec["lossFun"] = full
    rec["wrong_outputs_by_length"] = {str(L): w for L, w in wrong_at.items()}
    rec["shortest_failing_length"] = min(failing) if failing else None
    rec["gradients_within_clip"] = all(m.get("largest_reference_gradient", 0) < 5 for m in by_len.values())
    rec["exit_status"] = 0 if not failing else 1
    rec["note"] = entry["note"]
    return rec


FILES_MINCHAR = [
    dict(file="min_char_rnn.py", python2=True, mistake=None,
         note="min-char-rnn shape, Python 2 (print statements, xrange), reads input.txt at import and trains "
              "in a `while True:` loop at the bottom; lossFun is right."),
    dict(file="min_char_rnn_dWhh_uses_h_t.py", python2=True, mistake="minchar_dWhh_uses_h_t",
         note="Python 2 min-char-rnn whose lossFun accumulates dWhh += dhraw.dot(hs[t].T) instead of hs[t - 1]: "
              "only dWhh is wrong, from the first step on (at length 1 it should use hprev)."),
]


# =========================================================================== class-based code
# Three APIs, each checked per parameter and per sequence length (the shortest prefix of the
# sequence at which some gradient is wrong).

SEP_NAMES = ["Wi", "Wf", "Wo", "Wg", "Ui", "Uf", "Uo", "Ug", "bi", "bf", "bo", "bg", "V", "by"]


def sep_ref(P, x, y):
    """Reference for an LSTM with separate gate matrices: total cross-entropy and its gradients."""
    H = P["Wi"].shape[0]
    T = len(x)
    h, c = {-1: np.zeros(H)}, {-1: np.zeros(H)}
    gates, probs, loss = {}, {}, 0.0
    for t in range(T):
        z = {k: P["U" + k][:, x[t]] + P["W" + k] @ h[t - 1] + P["b" + k] for k in "ifog"}
        gi, gf, go, gg = sigmoid(z["i"]), sigmoid(z["f"]), sigmoid(z["o"]), np.tanh(z["g"])
        c[t] = gf * c[t - 1] + gi * gg
        h[t] = go * np.tanh(c[t])
        s = P["V"] @ h[t] + P["by"]
        probs[t] = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
        gates[t] = (gi, gf, go, gg)
        loss -= np.log(probs[t][y[t]])
    G = {k: np.zeros_like(v) for k, v in P.items()}
    dh_n, dc_n = np.zeros(H), np.zeros(H)
    for t in reversed(range(T)):
        gi, gf, go, gg = gates[t]
        dy = probs[t].copy()
        dy[y[t]] -= 1
        G["V"] += np.outer(dy, h[t])
        G["by"] += dy
        dh = P["V"].T @ dy + dh_n
        tc = np.tanh(c[t])
        dc = dc_n + dh * go * (1 - tc ** 2)
        z = {"i": dc * gg * gi * (1 - gi), "f": dc * c[t - 1] * gf * (1 - gf),
             "o": dh * tc * go * (1 - go), "g": dc * gi * (1 - gg ** 2)}
        for k in "ifog":
            G["W" + k] += np.outer(z[k], h[t - 1])
            G["U" + k][:, x[t]] += z[k]
            G["b" + k] += z[k]
        dh_n = sum(P["W" + k].T @ z[k] for k in "ifog")
        dc_n = dc * gf
    return loss, G


def sep_measure(lo, cls_name, lengths, seed=0):
    V, H = 7, 4
    r = np.random.default_rng(seed)
    cls = lo.ns[cls_name]
    with contextlib.redirect_stdout(io.StringIO()):
        obj = cls(V, H)
    P = {}
    for k in SEP_NAMES:
        shape = getattr(obj, k).shape
        P[k] = (0.1 if k.startswith("b") else 0.6) * r.standard_normal(shape)
        setattr(obj, k, P[k].copy())
    xs = [int(v) for v in r.integers(0, V, max(lengths))]
    ys = [int(v) for v in r.integers(0, V, max(lengths))]
    out = {}
    for L in lengths:
        x, y = xs[:L], ys[:L]
        with contextlib.redirect_stdout(io.StringIO()):
            got = dict(zip(SEP_NAMES, obj.backward_propagation(x, y)))
        rl, rg = sep_ref(P, x, y)
        per = {}
        for k in SEP_NAMES:
            rec = compare(got[k], rg[k])
            arr = getattr(obj, k)
            rec["vs_finite_diff"] = fmt(err(got[k], num_grad(lambda: obj.calculate_loss(x, y), arr)))
            per["d" + k] = rec
        per["loss"] = compare(obj.calculate_loss(x, y), rl)
        out[L] = per
    return out, {"word_dim": V, "hidden_dim": H}


DLS2_BLOCKS = ["f", "g", "i", "o"]


def dls2_ref_step(x, h, c, Wx, Wh, b):
    H = h.shape[1]
    a = x @ Wx + h @ Wh + b
    f, g, i, o = sigmoid(a[:, :H]), np.tanh(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
    nc = f * c + g * i
    return f, g, i, o, nc, o * np.tanh(nc)


def dls2_ref_back(dh, dc_in, x, h, c, Wx, Wh, b):
    f, g, i, o, nc, nh = dls2_ref_step(x, h, c, Wx, Wh, b)
    tc = np.tanh(nc)
    dc = dc_in + dh * o * (1 - tc ** 2)
    dA = np.hstack([dc * c * f * (1 - f), dc * i * (1 - g ** 2), dc * g * i * (1 - i), dh * tc * o * (1 - o)])
    return {"dx": dA @ Wx.T, "dh_prev": dA @ Wh.T, "dc_prev": dc * f,
            "dWx": x.T @ dA, "dWh": h.T @ dA, "db": dA.sum(0)}


def dls2_measure(lo, lengths, seed=0):
    N, D, H = 3, 5, 4
    r = np.random.default_rng(seed)
    cls = lo.ns["LSTM"]
    Wx, Wh, b = 0.5 * r.standard_normal((D, 4 * H)), 0.5 * r.standard_normal((H, 4 * H)), 0.1 * r.standard_normal(4 * H)
    T = max(lengths)
    xs = r.standard_normal((T, N, D))
    h0, c0 = 0.5 * r.standard_normal((N, H)), 0.5 * r.standard_normal((N, H))
    dhs, dcT = r.standard_normal((T, N, H)), r.standard_normal((N, H))
    params = [Wx.copy(), Wh.copy(), b.copy()]
    out = {}
    for L in lengths:
        # L layers sharing one set of parameters, as the book's TimeLSTM chains them; the loss
        # sees every h_t and, at the last step, c_L
        inputs = {"x": xs[:L].copy(), "h0": h0.copy(), "c0": c0.copy()}

        def run():
            layers = [cls(*params) for _ in range(L)]
            h, c = inputs["h0"], inputs["c0"]
            loss = 0.0
            for t in range(L):
                h, c = layers[t].forward(inputs["x"][t], h, c)
                loss += np.sum(h * dhs[t])
            return layers, loss + np.sum(c * dcT)

        layers, _ = run()
        dh, dc = np.zeros((N, H)), dcT.copy()
        dx = np.zeros((L, N, D))
        gW = [0, 0, 0]
        for t in reversed(range(L)):
            dx[t], dh, dc = layers[t].backward(dhs[t] + dh, dc)
            gW = [a + g.copy() for a, g in zip(gW, layers[t].grads)]
        got = {"dx": dx, "dh0": dh, "dc0": dc, "dWx": gW[0], "dWh": gW[1], "db": gW[2]}
        # reference chain
        hs, cs = [h0], [c0]
        for t in range(L):
            *_, nc, nh = dls2_ref_step(xs[t], hs[-1], cs[-1], Wx, Wh, b)
            hs.append(nh)
            cs.append(nc)
        want = {"dx": np.zeros((L, N, D)), "dWx": 0, "dWh": 0, "db": 0}
        rdh, rdc = np.zeros((N, H)), dcT.copy()
        for t in reversed(range(L)):
            g = dls2_ref_back(dhs[t] + rdh, rdc, xs[t], hs[t], cs[t], Wx, Wh, b)
            want["dx"][t] = g["dx"]
            rdh, rdc = g["dh_prev"], g["dc_prev"]
            for k in ("dWx", "dWh", "db"):
                want[k] = want[k] + g[k]
        want["dh0"], want["dc0"] = rdh, rdc
        targets = {"dx": inputs["x"], "dh0": inputs["h0"], "dc0": inputs["c0"],
                   "dWx": params[0], "dWh": params[1], "db": params[2]}
        per = {}
        for k, arr in targets.items():
            rec = compare(got[k], want[k])
            rec["vs_finite_diff"] = fmt(err(got[k], num_grad(lambda: run()[1], arr)))
            if k in ("dWx", "dWh", "db"):
                rec["gate_blocks_ok"] = {blk: err(got[k][..., n * H:(n + 1) * H], want[k][..., n * H:(n + 1) * H]) <= REF_TOL
                                         for n, blk in enumerate(DLS2_BLOCKS)}
            per[k] = rec
        out[L] = per
    return out, {"N": N, "D": D, "H": H, "gate_order": "f, g, i, o"}


def wild_ref(U, V, W, x, y, truncate=None):
    """Full BPTT (truncate=None) or WildML's truncated BPTT of the total cross-entropy."""
    T = len(x)
    H = W.shape[0]
    s = np.zeros((T + 1, H))
    o = np.zeros((T, V.shape[0]))
    for t in range(T):
        s[t] = np.tanh(U[:, x[t]] + W @ s[t - 1])
        e = np.exp(V @ s[t] - (V @ s[t]).max())
        o[t] = e / e.sum()
    dU, dV, dW = np.zeros_like(U), np.zeros_like(V), np.zeros_like(W)
    do = o.copy()
    do[np.arange(T), y] -= 1
    for t in reversed(range(T)):
        dV += np.outer(do[t], s[t])
        delta = (V.T @ do[t]) * (1 - s[t] ** 2)
        lo_step = 0 if truncate is None else max(0, t - truncate)
        for k in range(t, lo_step - 1, -1):
            dW += np.outer(delta, s[k - 1])
            dU[:, x[k]] += delta
            delta = (W.T @ delta) * (1 - s[k - 1] ** 2)
    return {"dLdU": dU, "dLdV": dV, "dLdW": dW}


def wild_measure(lo, lengths, seed=0):
    Vw, H = 7, 5
    r = np.random.default_rng(seed)
    cls = lo.ns["RNNNumpy"]
    obj = cls(Vw, H)                         # bptt_truncate at its default
    U, V, W = 0.6 * r.standard_normal((H, Vw)), 0.6 * r.standard_normal((Vw, H)), 0.6 * r.standard_normal((H, H))
    obj.U, obj.V, obj.W = U.copy(), V.copy(), W.copy()
    T = max(lengths)
    xs = [int(v) for v in r.integers(0, Vw, T)]
    ys = [int(v) for v in r.integers(0, Vw, T)]
    trunc = obj.bptt_truncate
    out = {}
    for untruncated in (False, True):
        obj.bptt_truncate = 10 ** 6 if untruncated else trunc
        for L in lengths:
            x, y = xs[:L], ys[:L]
            with contextlib.redirect_stdout(io.StringIO()):
                got = dict(zip(["dLdU", "dLdV", "dLdW"], obj.bptt(x, y)))
            exact = wild_ref(U, V, W, x, y)
            tr = wild_ref(U, V, W, x, y, truncate=obj.bptt_truncate)
            per = {}
            for k, arr in (("dLdU", obj.U), ("dLdV", obj.V), ("dLdW", obj.W)):
                rec = compare(got[k], exact[k])
                if not untruncated:
                    t_rec = compare(got[k], tr[k])
                    rec["vs_truncated_reference"] = t_rec.get("vs_reference")
                    rec["ok_vs_truncated_reference"] = t_rec["ok"]
                rec["vs_finite_diff"] = fmt(err(got[k], num_grad(lambda: obj.calculate_total_loss([x], [y]), arr)))
                per[k] = rec
            out[(untruncated, L)] = per
    obj.bptt_truncate = trunc
    return out, {"word_dim": Vw, "hidden_dim": H, "bptt_truncate_default": trunc}


FILES_CLASSES = [
    dict(file="lstm_class_correct.py", api="own LSTM class", cls="LSTMNumpy", mistake=None,
         note="A learner's LSTM language model with separate gate matrices (W* on h, U* on the one-hot word, "
              "V to the vocabulary, biases b*, by), one sentence at a time; backward_propagation is right."),
    dict(file="lstm_class_step_mistake.py", api="own LSTM class", cls="LSTMNumpy", mistake="own_lstm_do_without_tanh",
         note="Inside one step: do = dh * c[t] instead of dh * tanh(c[t]). At length 1 only dUo and dbo are wrong "
              "(dWo multiplies h[-1] = 0); at length 2 the wrong output-gate gradient carried back through dh_next "
              "adds dWo, dUi, dbi, dUg, dbg (the forget gate of step 0 multiplies c[-1] = 0); from length 3 all 12 "
              "gate parameters are wrong. dV and dby are always right."),
    dict(file="lstm_class_carry_mistake.py", api="own LSTM class", cls="LSTMNumpy", mistake="own_lstm_dc_next_without_f",
         note="Only in the carry between steps: dc_next = dc instead of dc * f[t]. Right at length 1 (its own "
              "gradient check, run on one word, passes); at length 2 dUi, dbi, dUg, dbg are wrong, at length 3 "
              "11 of the 12 gate parameters (all but dWo), from length 4 all 12. dV and dby are always right."),
    dict(file="dls2_lstm.py", api="Deep Learning from Scratch 2 LSTM layer", mistake=None,
         note="LSTM(Wx, Wh, b) with gate blocks f, g, i, o, forward(x, h_prev, c_prev), backward(dh_next, dc_next) "
              "-> dx, dh_prev, dc_prev, gradients written into self.grads; right."),
    dict(file="dls2_lstm_dc_missing_o.py", api="Deep Learning from Scratch 2 LSTM layer", mistake="dls2_dc_missing_o",
         note="The cell gradient drops the output gate: dc = dc_next + dh_next * (1 - tanh(c)**2). At one step the "
              "f, g, i blocks of dWx, dWh, db are wrong and the o block right, and dx, dh_prev, dc_prev are wrong; "
              "chained over 2 or more steps the wrong dh_prev reaches the o block too."),
    dict(file="wildml_rnn.py", api="WildML RNNNumpy", mistake=None,
         note="WildML-style RNNNumpy: bptt(x, y) -> [dLdU, dLdV, dLdW] of calculate_total_loss. Right as truncated "
              "BPTT: equals the full gradient while the sentence is at most bptt_truncate + 1 = 5 words; by design "
              "dLdU differs from finite differences from 6 words and dLdW from 7 (s[-1] = 0 hides the first missing "
              "term of dLdW); it equals the truncated-BPTT reference at every length, and with bptt_truncate large "
              "it is right at every length."),
    dict(file="wildml_rnn_delta_uses_s_step.py", api="WildML RNNNumpy", mistake="wildml_delta_uses_s_step",
         note="In the inner BPTT loop the carried delta uses (1 - s[step]**2) instead of (1 - s[step - 1]**2): right "
              "for one word, dLdU and dLdW wrong from two words on; dLdV always right."),
]


def _by_length(out):
    wrong = {L: sorted(k for k, r in per.items() if not r["ok"]) for L, per in out.items()}
    failing = [L for L, w in wrong.items() if w]
    return wrong, (min(failing) if failing else None)


def measure_classes(entry):
    path = HERE / "classes" / entry["file"]
    lo = Loaded(path)
    rec = {"file": entry["file"], "api": entry["api"], "mistake": entry["mistake"], "not_loaded": lo.skipped}
    if entry["api"] == "own LSTM class":
        lengths = list(range(1, 6))
        out, sizes = sep_measure(lo, entry["cls"], lengths)
        rec["class"] = entry["cls"]
        rec["call"] = ("obj = %s(word_dim, hidden_dim); set Wi..by; obj.backward_propagation(x, y) -> "
                       "[dWi, dWf, dWo, dWg, dUi, dUf, dUo, dUg, dbi, dbf, dbo, dbg, dV, dby]; "
                       "loss obj.calculate_loss(x, y)" % entry["cls"])
        wrong, shortest = _by_length(out)
    elif entry["api"].startswith("Deep Learning"):
        lengths = list(range(1, 5))
        out, sizes = dls2_measure(lo, lengths)
        rec["class"] = "LSTM"
        rec["call"] = ("layer = LSTM(Wx, Wh, b); h, c = layer.forward(x, h_prev, c_prev); dx, dh_prev, dc_prev = "
                       "layer.backward(dh_next, dc_next); layer.grads = [dWx, dWh, db]. Length L: L layers sharing "
                       "the parameter arrays chained over L steps (as TimeLSTM does), loss sum_t h_t . dh_t + c_L . dc_L")
        wrong, shortest = _by_length(out)
        rec["gate_blocks_wrong_by_length"] = {
            str(l): {k: [b for b, ok in per[k]["gate_blocks_ok"].items() if not ok] for k in ("dWx", "dWh", "db")}
            for l, per in out.items()}
    else:
        lengths = list(range(1, 9))
        out, sizes = wild_measure(lo, lengths)
        rec["class"] = "RNNNumpy"
        rec["call"] = ("obj = RNNNumpy(word_dim, hidden_dim) (bptt_truncate at its default 4); obj.bptt(x, y) -> "
                       "[dLdU, dLdV, dLdW]; loss obj.calculate_total_loss([x], [y])")
        trunc = {L: per for (u, L), per in out.items() if not u}
        untr = {L: per for (u, L), per in out.items() if u}
        wrong, shortest = _by_length(trunc)
        rec["wrong_vs_truncated_reference_by_length"] = {
            str(L): sorted(k for k, r in per.items() if not r["ok_vs_truncated_reference"]) for L, per in trunc.items()}
        w2, s2 = _by_length(untr)
        rec["with_bptt_truncate_1e6"] = {"wrong_by_length": {str(L): w for L, w in w2.items()},
                                         "shortest_failing_length": s2}
        out = trunc
    L = max(lengths)
    rec["sizes"] = sizes
    rec["lengths_measured"] = lengths
    rec["parameters"] = {k: {"ok_at_length_%d" % L: r["ok"],
                             "wrong_from_length": next((l for l in lengths if not out[l][k]["ok"]), None)}
                         for k, r in out[L].items()}
    rec["wrong_by_length"] = {str(l): w for l, w in wrong.items()}
    rec["shortest_failing_length"] = shortest
    rec["at_longest_length"] = out[L]
    rec["note"] = entry["note"]
    return rec


# =========================================================================== manifests

FOLDERS = {"real": lambda: [measure_real(e) for e in FILES_REAL],
           "dlai": lambda: [measure_dlai(e) for e in FILES_DLAI],
           "minchar": lambda: [measure_minchar(e) for e in FILES_MINCHAR],
           "classes": lambda: [measure_classes(e) for e in FILES_CLASSES]}


def _same(a, b, path=""):
    """Manifests agree: every field equal, errors equal or both at round-off level."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return ["%s: keys %s vs %s" % (path, sorted(set(a) ^ set(b)), "")]
        return [m for k in a for m in _same(a[k], b[k], path + "/" + str(k))]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return ["%s: %d vs %d items" % (path, len(a), len(b))]
        return [m for i, (x, y) in enumerate(zip(a, b)) for m in _same(x, y, "%s[%d]" % (path, i))]
    if isinstance(a, float) and isinstance(b, float):
        if (a <= 1e-6 and b <= 1e-6) or abs(a - b) <= 0.1 * max(abs(a), abs(b)):
            return []
        return ["%s: %g vs %g" % (path, a, b)]
    return [] if a == b else ["%s: %r vs %r" % (path, a, b)]


def main(argv):
    check = "--check" in argv
    folders = [a for a in argv if not a.startswith("-")] or list(FOLDERS)
    self_test_cs231n()
    self_test_dlai()
    bad = 0
    for folder in folders:
        entries = FOLDERS[folder]()
        path = HERE / folder / "manifest.json"
        text = json.dumps(entries, indent=1) + "\n"
        if check:
            diffs = _same(json.loads(path.read_text()), json.loads(text))
            for m in diffs:
                print("%s/manifest.json%s" % (folder, m))
            bad += len(diffs)
            print("%s: %d entries, %s" % (folder, len(entries), "as committed" if not diffs else "DIFFERENT"))
        else:
            path.write_text(text)
            print("%s: wrote %d entries to %s" % (folder, len(entries), path.relative_to(HERE.parent.parent)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
