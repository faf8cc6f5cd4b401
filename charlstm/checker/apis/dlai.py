"""deeplearning.ai, Sequence Models, week 1: "Building a Recurrent Neural Network - Step by Step".

The learner writes an RNN cell and an LSTM cell, forward and backward, and the loops over
time that call them. The handout's conventions:

- features first, time last: xt (n_x, m), a_prev, c_prev (n_a, m), x (n_x, m, T_x),
  a (n_a, m, T_x); a weight multiplies from the left, W @ x, and a bias is a column (n_a, 1);
- the weights come in a ``parameters`` dict: Wax (n_a, n_x), Waa (n_a, n_a), ba (n_a, 1)
  for the RNN; one matrix per LSTM gate on concat = [a_prev; xt] (the hidden state
  first): Wf, Wi, Wc, Wo (n_a, n_a + n_x), bf, bi, bc, bo (n_a, 1), the gates ft, it,
  cct (the candidate), ot; and Wya or Wy (n_y, n_a), by (n_y, 1) for the prediction
  yt_pred = softmax(Wy @ a_next + by), which every forward returns too;
- the backward starts after that softmax (da is given) and returns a dict of gradients
  ("dxt", "da_prev", ...); the LSTM cell state starts at zero, and the time-step count is
  taken from da: n_a, m, T_x = da.shape.

The notebook starts with ``from rnn_utils import *`` (its softmax and sigmoid) and
``from public_tests import *``; where those files are absent, ``SHIPPED`` stands in for
the first and the second is skipped, so a learner's own notebook is checked as it is.

Until 2021 the notebook printed, as the expected output of ``lstm_backward``, the values
of a backward that never carries da_prevt and dc_prevt back from step t+1; a learner who
matched them is told so (``_old_expected_output``).

This module only describes; ``engine.py`` does the checking.
"""

from __future__ import annotations

import re
import textwrap

import numpy as np

from ... import layers as L
from ...errors import CharlstmError
from .. import families as F
from ..catalogue import CATALOGUE
from ..report import Finding
from . import FEATURES_FIRST, Bundle, Convention, Function, GateMatrices, Layout, Pair, hint

NAME = "dlai"
TITLE = "deeplearning.ai Sequence Models week 1"


# =========================================================================== the helpers it ships

def softmax(x):
    """The assignment's softmax: over the first axis (the n_y classes of each example)."""
    e_x = np.exp(x - np.max(x, axis=0, keepdims=True))
    return e_x / e_x.sum(axis=0, keepdims=True)


def sigmoid(x):
    """The assignment's sigmoid."""
    return 1 / (1 + np.exp(-x))


# module -> the names it gives a learner's file (None: the assignment's tests, skipped)
SHIPPED = {"rnn_utils": {"softmax": softmax, "sigmoid": sigmoid}, "public_tests": None}


# =========================================================================== the mistakes, in its words

_DC = "dc = dc_next + da_next * ot * (1 - np.tanh(c_next)**2)"


def _gates(detail):
    """The catalogue's 'the gates i, f and o' in the notebook's names: 'the gates it, ft and ot'."""
    return re.sub(r"\b([ifo])\b", lambda m: m[1] + "t", detail)


WORDS = {   # catalogue id -> (what, equation, fix) in the notebook's names; {detail} as in the catalogue
    "lstm_dc_no_h_path": (
        "dc = dc_next: the cell state's gradient leaves out the path through a_next = ot * tanh(c_next)",
        f"{_DC}   (c_next reaches the loss through step t+1 and through a_next)",
        "use dc_next + da_next * ot * (1 - np.tanh(c_next)**2) where dcct, dit, dft and dc_prev "
        "use dc_next"),
    "lstm_dc_only_h_path": (
        "the cell state's gradient keeps only the path through a_next and drops dc_next",
        _DC, "add dc_next: " + _DC),
    "lstm_sigmoid_of_activated": (
        "the sigmoid derivative of {detail} is taken of the already-activated gate, as in "
        "sigmoid(ft) * (1 - sigmoid(ft))",
        "ft = sigmoid(np.dot(Wf, concat) + bf) is stored activated, so its derivative is ft * (1 - ft)",
        "use ft * (1 - ft), it * (1 - it), ot * (1 - ot)"),
    "lstm_tanh_of_tanh_c": (
        "the derivative of tanh(c_next) is computed as 1 - np.tanh(np.tanh(c_next))**2",
        "d tanh(c)/dc = 1 - np.tanh(c_next)**2", "one tanh: 1 - np.tanh(c_next)**2"),
    "lstm_tanh_of_g": (
        "the candidate's derivative is 1 - np.tanh(cct)**2, though cct is already a tanh",
        "dcct = dc * it * (1 - cct**2), with " + _DC, "use 1 - cct**2"),
    "lstm_do_uses_dc": (
        "dot uses the cell state's gradient instead of da_next",
        "a_next = ot * np.tanh(c_next): ot reaches the loss only through a_next, so "
        "dot = da_next * np.tanh(c_next) * ot * (1 - ot)",
        "dot = da_next * np.tanh(c_next) * ot * (1 - ot)"),
    "lstm_dprev_c_is_dc": (
        "dc_prev is the cell state's whole gradient instead of that times ft",
        "c_next = ft * c_prev + it * cct, so dc_prev = dc * ft, with " + _DC,
        "dc_prev = (dc_next + da_next * ot * (1 - np.tanh(c_next)**2)) * ft"),
    "concat_dx_wrong_rows": (
        "dxt is computed from W[:, :n_x], columns that multiply a_prev, instead of W[:, n_a:]",
        "concat = [a_prev; xt], the hidden state first: in each of Wf, Wi, Wc, Wo the first n_a "
        "columns multiply a_prev and the last n_x multiply xt",
        "dxt = np.dot(Wf[:, n_a:].T, dft) + np.dot(Wi[:, n_a:].T, dit) + np.dot(Wc[:, n_a:].T, dcct) "
        "+ np.dot(Wo[:, n_a:].T, dot)"),
    "lstm_h_no_tanh": ("a_next = ot * c_next, without the tanh", "a_next = ot * np.tanh(c_next)",
                       "a_next = ot * np.tanh(c_next)"),
    "lstm_g_sigmoid": ("the candidate cct uses a sigmoid instead of tanh",
                       "cct = np.tanh(np.dot(Wc, concat) + bc)",
                       "cct = np.tanh(np.dot(Wc, concat) + bc)  (only ft, it and ot are sigmoids)"),
    "rnn_tanh_of_activated": (
        "tanh's derivative is 1 - np.tanh(a_next)**2, of the already-activated a_next",
        "a_next = np.tanh(...), so dtanh = (1 - a_next**2) * da_next", "use 1 - a_next**2"),
    "rnn_dprev_h_not_transposed": (
        "da_prev = np.dot(Waa, dtanh), without the transpose (Waa is square, so the shape cannot tell)",
        "a_next = np.tanh(np.dot(Waa, a_prev) + ...), so da_prev = np.dot(Waa.T, dtanh)",
        "da_prev = np.dot(Waa.T, dtanh)"),
    "seq_no_dnext_h": (
        "each step's cell backward gets only da[:, :, t]: da_prevt, the gradient from step t+1, "
        "is never added",
        "the gradient reaching a<t> is da[:, :, t] (from the output) + da_prevt (from step t+1)",
        "pass da[:, :, t] + da_prevt, and after each step set da_prevt = gradients[\"da_prev\"]"),
    "lstm_seq_dc_not_carried": (
        "dc_prevt stays zero: the cell state's gradient from step t+1 never reaches step t",
        "dc_next of step t is the dc_prev that step t+1 returned",
        "after each step set dc_prevt = gradients[\"dc_prev\"]"),
    "seq_weights_assigned": (
        "each weight gradient is assigned at every step (dWf = gradients[\"dWf\"]) instead of "
        "summed over time, so only step 0 survives",
        "the same weights are used at every step: dWf = the sum over t of each step's dWf",
        "start every weight and bias gradient at zeros and add: dWf += gradients[\"dWf\"] "
        "(dWax, dWaa, dba in the RNN)"),
    "seq_loop_forward": (
        "the backward loop runs forward in time (t = 0, 1, ...)",
        "step t needs da_prevt from step t+1: visit t = T_x - 1, ..., 0",
        "for t in reversed(range(T_x)):"),
}
DETAILS = {"lstm_sigmoid_of_activated": _gates}     # id -> the catalogue's detail in these names

assert set(WORDS) <= set(CATALOGUE)


# =========================================================================== where wrong outputs point

_STEP_HINTS = {
    "rnn_cell_forward": (
        hint("yt_pred = softmax(np.dot(Wya, a_next) + by), the softmax over the n_y classes", wrong=["yt_pred"], right=["a_next"]),
        hint("a_next = np.tanh(np.dot(Waa, a_prev) + np.dot(Wax, xt) + ba); yt_pred = "
             "softmax(np.dot(Wya, a_next) + by)")),
    "lstm_cell_forward": (
        hint("yt_pred = softmax(np.dot(Wy, a_next) + by), the softmax over the n_y classes",
             wrong=["yt_pred"], right=["a_next", "c_next"]),
        hint("so ft, it and cct are right: look at a_next = ot * np.tanh(c_next), "
             "with ot = sigmoid(np.dot(Wo, concat) + bo)", wrong=["a_next"], right=["c_next"]),
        hint("concat = np.concatenate((a_prev, xt), axis=0), a_prev first; ft, it, ot = "
             "sigmoid(np.dot(W, concat) + b) with Wf, Wi, Wo; cct = np.tanh(np.dot(Wc, concat) + bc); "
             "c_next = ft * c_prev + it * cct; a_next = ot * np.tanh(c_next)")),
    "rnn_cell_backward": (
        hint("dba = np.sum(dtanh, axis=1, keepdims=True), summed over the m examples", wrong=["dba"], only=["dba"]),
        hint("look at the recurrent term: da_prev = np.dot(Waa.T, dtanh), dWaa = np.dot(dtanh, a_prev.T)",
             any_wrong=["da_prev", "dWaa"], only=["da_prev", "dWaa", "dba"]),
        hint("look at the input term: dxt = np.dot(Wax.T, dtanh), dWax = np.dot(dtanh, xt.T)",
             any_wrong=["dxt", "dWax"], only=["dxt", "dWax", "dba"]),
        hint("dtanh = (1 - a_next**2) * da_next, the gradient through the tanh; every gradient "
             "is computed from it")),
    "lstm_cell_backward": (
        hint("so dc itself is right: dc_prev = dc * ft, with " + _DC, wrong=["dc_prev"], only=["dc_prev"]),
        hint("dxt = the sum over the gates of np.dot(W[:, n_a:].T, d_gate); "
             "the columns n_a: of each W multiply xt", wrong=["dxt"], only=["dxt"]),
        hint("da_prev = the sum over the gates of np.dot(W[:, :n_a].T, "
             "d_gate); the first n_a columns of each W multiply a_prev", wrong=["da_prev"], only=["da_prev"]),
        hint("so the gates' gradients are: look at the weight gradients, dWf = np.dot(dft, concat.T) "
             "with concat = [a_prev; xt]", right=["dbf", "dbi", "dbc", "dbo"]),
        hint("so dot is, and the gates reached through the cell state are not: "
             f"look at the cell state's gradient, {_DC}, shared by dcct, dit, dft and dc_prev",
             right=["dWo", "dbo"], wrong=["dc_prev"]),
        hint(f"{_DC}; dot = da_next * np.tanh(c_next) * ot * (1 - ot); dcct = dc * it * (1 - cct**2); "
             "dit = dc * cct * it * (1 - it); dft = dc * c_prev * ft * (1 - ft)")),
}

_LOOP_FORWARD = ("if {cell} passes, look at the loop: step t takes xt = x[:, :, t] and the "
                 "{state} of step t-1 ({start} at t = 0), and stores {stores}")
_LOOP_BACKWARD = ("if {cell} passes, look at the loop: for t in reversed(range(T_x)), the cell "
                  "backward gets da[:, :, t] + da_prevt{dc} and caches[t]; da_prevt{dcn} come from "
                  "what it returns; every weight and bias gradient is summed (+=); da0 = da_prevt")
_SEQ_HINTS = {
    "rnn_forward": (
        hint("y_pred[:, :, t] = yt_pred of step t", wrong=["y_pred"], right=["a"]),
        hint(_LOOP_FORWARD.format(cell="rnn_cell_forward", state="a_next", start="a0",
                                  stores="a_next in a[:, :, t] and yt_pred in y_pred[:, :, t]"))),
    "lstm_forward": (
        hint("y[:, :, t] = yt_pred and c[:, :, t] = c_next of step t",
             any_wrong=["y", "c"], right=["a"]),
        hint(_LOOP_FORWARD.format(cell="lstm_cell_forward", state="a_next and c_next",
                                  start="a0, and c_next = zeros",
                                  stores="a_next, c_next, yt_pred in a, c, y at [:, :, t]"))),
    "rnn_backward": (
        hint(_LOOP_BACKWARD.format(cell="rnn_cell_backward", dc="", dcn="")),),
    "lstm_backward": (
        hint(_LOOP_BACKWARD.format(cell="lstm_cell_backward", dc=" with dc_prevt",
                                   dcn=" and dc_prevt")),),
}


# =========================================================================== the functions

def _fn(name, signature, outputs, doc, kind="forward", mistakes=(), probes=()):
    return Function(name, signature, tuple(outputs.split()), textwrap.dedent(doc).strip("\n"),
                    kind, tuple(mistakes), {**_STEP_HINTS, **_SEQ_HINTS}.get(name, ()), probes=probes)


_RNN_CELL = ["rnn_tanh_of_activated", "rnn_dprev_h_not_transposed"]
_LSTM_CELL = ["lstm_dc_no_h_path", "lstm_dc_only_h_path", "lstm_sigmoid_of_activated",
              "lstm_tanh_of_tanh_c", "lstm_tanh_of_g", "lstm_dprev_c_is_dc", "lstm_do_uses_dc",
              "concat_dx_wrong_rows"]
_LOOP = ["seq_no_dnext_h", "seq_weights_assigned", "seq_loop_forward"]


def _old_expected_output(call):
    """The pre-2021 notebook's test cell of lstm_backward: [Finding] when the learner's result
    is the expected output it printed then (see the module docstring)."""
    return _OLD.findings(call)


_FUNCTIONS = [
    _fn("rnn_cell_forward", "rnn_cell_forward(xt, a_prev, parameters)", "a_next yt_pred", """
    One step of the RNN cell.

        a_next = tanh(Waa @ a_prev + Wax @ xt + ba)
        yt_pred = softmax(Wya @ a_next + by)

    xt: (n_x, m) input at step t; a_prev: (n_a, m) hidden state of step t-1;
    parameters: dict with Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1), by (n_y, 1)
    Returns a_next (n_a, m), yt_pred (n_y, m), cache = (a_next, a_prev, xt, parameters).
    """),
    _fn("rnn_forward", "rnn_forward(x, a0, parameters)", "a y_pred", """
    The RNN over T_x steps: call rnn_cell_forward at each step.

    x: (n_x, m, T_x); a0: (n_a, m) initial hidden state; parameters as for the cell.
    Returns a (n_a, m, T_x), y_pred (n_y, m, T_x), caches = (list of the caches, x).
    """),
    _fn("lstm_cell_forward", "lstm_cell_forward(xt, a_prev, c_prev, parameters)", "a_next c_next yt_pred", """
    One step of the LSTM cell. concat = [a_prev; xt] (a_prev first), (n_a + n_x, m):

        ft = sigmoid(Wf @ concat + bf)     forget gate
        it = sigmoid(Wi @ concat + bi)     update gate
        cct = tanh(Wc @ concat + bc)       candidate value
        ot = sigmoid(Wo @ concat + bo)     output gate
        c_next = ft * c_prev + it * cct
        a_next = ot * tanh(c_next)
        yt_pred = softmax(Wy @ a_next + by)

    xt: (n_x, m); a_prev, c_prev: (n_a, m); parameters: dict with Wf, Wi, Wc, Wo
    (n_a, n_a + n_x), bf, bi, bc, bo (n_a, 1), Wy (n_y, n_a), by (n_y, 1)
    Returns a_next, c_next (n_a, m), yt_pred (n_y, m),
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters).
    """, mistakes=["lstm_h_no_tanh", "lstm_g_sigmoid"]),
    _fn("lstm_forward", "lstm_forward(x, a0, parameters)", "a y c", """
    The LSTM over T_x steps: call lstm_cell_forward at each step; the cell state starts at
    zero. n_y comes from parameters["Wy"].

    x: (n_x, m, T_x); a0: (n_a, m); parameters as for the cell.
    Returns a (n_a, m, T_x), y (n_y, m, T_x), c (n_a, m, T_x), caches = (list of the caches, x).
    """, mistakes=["lstm_h_no_tanh", "lstm_g_sigmoid"]),
    _fn("rnn_cell_backward", "rnn_cell_backward(da_next, cache)", "dxt da_prev dWax dWaa dba", """
    Backward pass of one RNN cell (the softmax is not included: da_next is given).

    da_next: (n_a, m) gradient of the loss with respect to a_next; cache from rnn_cell_forward.
        dtanh = (1 - a_next**2) * da_next
    Returns the dict gradients: dxt (n_x, m), da_prev (n_a, m), dWax (n_a, n_x),
    dWaa (n_a, n_a), dba (n_a, 1).
    """, "backward", _RNN_CELL),
    _fn("rnn_backward", "rnn_backward(da, caches)", "dx da0 dWax dWaa dba", """
    Backward pass of the RNN over the whole sequence.

    da: (n_a, m, T_x) upstream gradient of every hidden state; caches from rnn_forward.
    T_x comes from da: n_a, m, T_x = da.shape. The gradient entering step t is
    da[:, :, t] + da_prevt from step t+1; the weight gradients are summed over time.
    Returns the dict gradients: dx (n_x, m, T_x), da0 (n_a, m), dWax, dWaa, dba.
    """, "backward", _RNN_CELL + _LOOP),
    _fn("lstm_cell_backward", "lstm_cell_backward(da_next, dc_next, cache)",
        "dxt da_prev dc_prev dWf dbf dWi dbi dWc dbc dWo dbo", """
    Backward pass of one LSTM cell (the softmax is not included: da_next is given).

    da_next, dc_next: (n_a, m); cache from lstm_cell_forward.
    c_next reaches the loss through dc_next and through a_next = ot * tanh(c_next):
        dc = dc_next + da_next * ot * (1 - tanh(c_next)**2)
        dot = da_next * tanh(c_next) * ot * (1 - ot)
        dcct = dc * it * (1 - cct**2)
        dit = dc * cct * it * (1 - it)
        dft = dc * c_prev * ft * (1 - ft)
        dWf = dft @ concat.T, dbf = sum of dft over the m examples (n_a, 1), likewise i, c, o
        da_prev = sum over the gates of W[:, :n_a].T @ d_gate; dxt: W[:, n_a:]
        dc_prev = dc * ft
    Returns the dict gradients: dxt (n_x, m), da_prev, dc_prev (n_a, m),
    dWf, dWi, dWc, dWo (n_a, n_a + n_x), dbf, dbi, dbc, dbo (n_a, 1).
    """, "backward", _LSTM_CELL),
    _fn("lstm_backward", "lstm_backward(da, caches)", "dx da0 dWf dbf dWi dbi dWc dbc dWo dbo", """
    Backward pass of the LSTM over the whole sequence.

    da: (n_a, m, T_x) upstream gradient of every hidden state; caches from lstm_forward.
    T_x comes from da: n_a, m, T_x = da.shape. For t = T_x - 1 down to 0 the cell backward
    gets da[:, :, t] + da_prevt and dc_prevt, both returned by step t+1 (zeros at the
    last step); the weight and bias gradients are summed over time; da0 = da_prevt.
    Returns the dict gradients: dx (n_x, m, T_x), da0 (n_a, m), dWf, dbf, dWi, dbi, dWc,
    dbc, dWo, dbo.
    """, "backward", _LSTM_CELL + _LOOP + ["lstm_seq_dc_not_carried"], probes=(_old_expected_output,)),
]
FUNCTIONS = {f.name: f for f in _FUNCTIONS}
ALIASES = {}


# =========================================================================== how they are called

SIGNATURE = "the notebook's signature and layout: x (n_x, m, T_x), a parameters dict"
PER_GATE = Layout("features-first, per-gate", features_first=True,
                  gates=GateMatrices((("f", "f"), ("i", "i"), ("g", "c"), ("o", "o"))))

_RNN_NAMES = (("Wx", "Wax"), ("Wh", "Waa"), ("b", "ba"), ("Wy", "Wya"))
_RNN_PARAMS = Bundle("parameters", ("Wax", "Waa", "Wya", "ba", "by"))
_LSTM_PARAMS = Bundle("parameters", ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo", "Wy", "by"))
_CELL = (("x", "xt"), ("prev_h", "a_prev"), ("prev_c", "c_prev"), ("next_h", "a_next"),
         ("next_c", "c_next"), ("y", "yt_pred"))
_LOOP_NAMES = (("h0", "a0"), ("h", "a"))


def _convention(family, names, args, backward_args, layout):
    return Convention(SIGNATURE, family, backward_args=backward_args, layout=layout,
                      names=names, args=args, grads_as="dict")


PAIRS = [
    Pair(FUNCTIONS["rnn_cell_forward"], FUNCTIONS["rnn_cell_backward"], (
        _convention(F.rnn_step(readout=True), _CELL + _RNN_NAMES, ("xt", "a_prev", _RNN_PARAMS),
                    ("dnext_h", "cache"), FEATURES_FIRST),)),
    Pair(FUNCTIONS["rnn_forward"], FUNCTIONS["rnn_backward"], (
        _convention(F.rnn(readout=True), _LOOP_NAMES + (("y", "y_pred"),) + _RNN_NAMES,
                    ("x", "a0", _RNN_PARAMS), ("dh", "cache"), FEATURES_FIRST),),
         step="rnn_cell_forward"),
    Pair(FUNCTIONS["lstm_cell_forward"], FUNCTIONS["lstm_cell_backward"], (
        _convention(F.lstm_step(readout=True), _CELL, ("xt", "a_prev", "c_prev", _LSTM_PARAMS),
                    ("dnext_h", "dnext_c", "cache"), PER_GATE),)),
    Pair(FUNCTIONS["lstm_forward"], FUNCTIONS["lstm_backward"], (
        _convention(F.lstm(readout=True, cells=True), _LOOP_NAMES, ("x", "a0", _LSTM_PARAMS),
                    ("dh", "cache"), PER_GATE),),
         step="lstm_cell_forward"),
]


# =========================================================================== the pre-2021 expected output

class _OldTestCell:
    """The notebook's test cell of lstm_backward before 2021: np.random.seed(1); x (3, 10, 7),
    a0 (5, 10), then Wf, bf, Wi, bi, Wo, bo, Wc, bc; lstm_forward; da (5, 10, 4), so the
    backward covers 4 of the 7 steps (T_x from da). Wy and by come from an earlier cell and
    do not reach the gradients. EXPECTED: what the notebook printed as expected output,
    those values that a backward without the carry from step t+1 reproduces (its printed
    dbi, dbc, dbo match no backward at all, and are left out)."""
    EXPECTED = {"dx[1][2]": [-0.00173313, 0.08287442, -0.30545663, -0.43281115],
                "da0[2][3]": -0.095911501954, "dWf[3][1]": -0.0698198561274,
                "dWi[1][2]": 0.102371820249, "dWc[3][1]": -0.0624983794927,
                "dWo[1][2]": 0.0484389131444, "dbf[4]": -0.0565788}

    def inputs(self):
        rs = np.random.RandomState(1)
        x, a0 = rs.randn(3, 10, 7), rs.randn(5, 10)
        p = {}
        for k in "fioc":
            p["W" + k], p["b" + k] = rs.randn(5, 5 + 3), rs.randn(5, 1)
        p["Wy"], p["by"] = np.zeros((2, 5)), np.zeros((2, 1))
        return x, a0, p, rs.randn(5, 10, 4)

    def right(self, x, a0, p, da):
        """The true gradients of that cell, by charlstm's LSTM, in the notebook's layout."""
        T, H = da.shape[2], a0.shape[0]
        blocks = {g: p["W" + k] for g, k in zip("ifog", "ifoc")}
        Wh = np.hstack([blocks[g][:, :H].T for g in "ifog"])
        Wx = np.hstack([blocks[g][:, H:].T for g in "ifog"])
        b = np.concatenate([p["b" + k][:, 0] for k in "ifoc"])
        xs = np.ascontiguousarray(x[:, :, :T].transpose(1, 2, 0))
        *_, cache = L.lstm_forward(xs, a0.T.copy(), np.zeros_like(a0.T), Wx, Wh, b)
        dx, dh0, _, dWx, dWh, db = L.lstm_backward(np.ascontiguousarray(da.transpose(1, 2, 0)), cache)
        g = PER_GATE.arrays({"dx": np.array(dx), "dh0": dh0, "dWx": dWx, "dWh": dWh, "db": db},
                            F.lstm().axes_of)
        g["da0"] = g.pop("dh0")
        return g

    @staticmethod
    def pick(g, label):
        name, *ix = re.findall(r"\w+", label)
        return np.asarray(g[name])[tuple(int(i) for i in ix)].ravel()

    def findings(self, call):
        x, a0, p, da = self.inputs()
        got, error = call("lstm_forward", x, a0, p)
        if error is None:
            got, error = call("lstm_backward", da, got[-1] if isinstance(got, tuple) else None)
        if error is not None:
            return [Finding(None, [], (
                "On the notebook's own test cell (x with 7 steps, da with 4) your lstm_backward "
                f"fails: {error}. The notebook takes T_x from da (n_a, m, T_x = da.shape): the "
                "steps da does not cover have no gradient."))]
        try:
            same = all(np.allclose(self.pick(got, k), v, rtol=1e-6, atol=1e-8)
                       for k, v in self.EXPECTED.items())
        except (KeyError, IndexError, TypeError, ValueError):
            return []
        if not same:
            return []
        right = self.right(x, a0, p, da)

        def show(g, k):
            v = self.pick(g, k)
            return np.array2string(v, precision=8) if v.size > 1 else f"{v[0]:.8g}"
        keys = ["dx[1][2]", "da0[2][3]", "dWf[3][1]"]
        yours = ", ".join(f'gradients["{k.split("[")[0]}"]{k[k.index("["):]} = {show(got, k)}' for k in keys)
        true = ", ".join(f'{k} = {show(right, k)}' for k in keys)
        return [Finding("dlai_old_expected_output", [], (
            "Your result equals the expected output printed by the notebook before 2021, which "
            "came from a backward that drops the gradient from step t+1: on the notebook's test "
            f"cell (np.random.seed(1)) your lstm_backward gives {yours}, the numbers printed "
            "then. Matching them does not make this right: that cell's true gradients are "
            f"{true}.\n  fix: in the loop, gradients = lstm_cell_backward(da[:, :, t] + da_prevt, "
            "dc_prevt, caches[t]), then da_prevt = gradients[\"da_prev\"] and dc_prevt = "
            "gradients[\"dc_prev\"]; da0 = da_prevt after the loop"))]


_OLD = _OldTestCell()


# =========================================================================== the template

TEMPLATES = {"dlai": [f.name for f in _FUNCTIONS]}


def template(kind="dlai"):
    """A starting file: the helpers, every signature with its docstring (shapes, equations)."""
    if kind not in TEMPLATES:
        raise CharlstmError(f"unknown template {kind!r}: choose one of {', '.join(TEMPLATES)}")
    parts = ['"""Building a Recurrent Neural Network - Step by Step (deeplearning.ai, Sequence '
             'Models, week 1),\nchecked with: charlstm check THIS_FILE.py"""\n\nimport numpy as np\n',
             '\ndef softmax(x):\n    """softmax over the first axis (as rnn_utils gives it)."""\n'
             '    e_x = np.exp(x - np.max(x, axis=0, keepdims=True))\n'
             '    return e_x / e_x.sum(axis=0, keepdims=True)\n',
             '\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n']
    for name in TEMPLATES[kind]:
        s = FUNCTIONS[name]
        doc = textwrap.indent(s.doc, "    ").lstrip()
        parts.append(f'\ndef {s.signature}:\n    """{doc}\n    """\n    raise NotImplementedError\n')
    return "\n".join(parts)
