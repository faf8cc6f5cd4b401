"""cs231n's assignment 3, ``rnn_layers.py``: the functions, as its handout describes them.

The learner writes the vanilla RNN and LSTM layers, step and sequence, forward and
backward, and the word embedding; the starter file already provides the temporal affine
layer and the temporal softmax loss. Arrays are batch first: x (N, T, D), h (N, T, H);
the LSTM's four gates are fused in Wx (D, 4H), Wh (H, 4H), b (4H,) in the order
i, f, o, g. charlstm's own extended signatures (c0 in, final states out; a loss whose
mask is optional) are the same functions, and are recognised too.

This module only describes; ``engine.py`` does the checking.
"""

from __future__ import annotations

import textwrap

from ...errors import CharlstmError
from .. import families as F
from . import BATCH_FIRST, TIME_MAJOR, UNBATCHED, Convention, Function, Pair, hint

NAME = "cs231n"
TITLE = "cs231n rnn_layers.py"


def _fn(name, signature, outputs, doc, kind="forward", mistakes=(), provided=False):
    return Function(name, signature, tuple(outputs.split()), textwrap.dedent(doc).strip("\n"),
                    kind, tuple(mistakes), _hints(name), provided)


# =========================================================================== where wrong outputs point

def _hints(fname):
    """Where a pattern of right and wrong outputs points, for each function (first that applies)."""
    if fname in _FORWARD_HINTS:
        return _FORWARD_HINTS[fname]
    step = "step" in fname
    prev_h, prev_c = ("dprev_h", "dprev_c") if step else ("dh0", "dc0")
    lstm, sequence = fname.startswith("lstm"), not step and fname.startswith(("lstm", "rnn"))
    rules = [
        hint(f"only {prev_c} is wrong, so dc itself is right: dprev_c = dc * f",
             wrong=[prev_c], only=[prev_c]),
        hint("only db is wrong: db is the sum of da over the batch (and time)", wrong=["db"], only=["db"]),
        hint(f"look at the recurrent term: {prev_h} and dWh are the only gradients that use Wh "
             "and the previous hidden state (dprev_h = da @ Wh.T, dWh = prev_h.T @ da)",
             any_wrong=["dWh", prev_h], only=["dWh", prev_h, "db"]),
        hint("look at the input term: dx = da @ Wx.T and dWx = x.T @ da",
             any_wrong=["dx", "dWx"], only=["dx", "dWx", "db"]),
    ]
    if lstm:
        rules += [
            hint("the cell gradient is right but da is not: look at the four gate gradients "
                 "di, df, do, dg and the order you stack them in",
                 right=[prev_c], wrong=["dx", "dWx", "dWh"]),
            hint("dc is probably wrong, since everything else is computed from it: "
                 "dc = dnext_c + dnext_h * o * (1 - tanh(next_c)**2)", wrong=[prev_c, "dx", "dWx"]),
        ]
    if sequence:
        rules.append(hint("if the step functions pass, look at the loop: the gradient entering "
                          "step t, what is carried to step t-1, and += for the weights"))
    return tuple(rules)


_LOOP = ("if {step} passes, look at the loop: step t takes x at step t and the {state} of "
         "step t-1 ({start} at t = 0), carries its new {state} to step t+1, and stores its "
         "next_h in h at step t")
_FORWARD_HINTS = {
    "rnn_step_forward": (
        hint("next_h = tanh(x @ Wx + prev_h @ Wh + b): look at each term and the tanh"),),
    "lstm_step_forward": (
        hint("next_c is right, so the gates i, f and g are: look at next_h = o * tanh(next_c), "
             "with o = sigmoid(a[:, 2H:3H])", wrong=["next_h"], right=["next_c"]),
        hint("look at the gates: a = x @ Wx + prev_h @ Wh + b is sliced into i, f, o, g in that "
             "order (i, f, o through a sigmoid, g through tanh), then next_c = f * prev_c + i * g "
             "and next_h = o * tanh(next_c)")),
    "rnn_forward": (
        hint("h is right: hT is the last step's hidden state", right=["h"]),
        hint(_LOOP.format(step="rnn_step_forward", state="hidden state", start="h0"))),
    "lstm_forward": (
        hint("h is right: hT and cT are the last step's hidden and cell states", right=["h"]),
        hint(_LOOP.format(step="lstm_step_forward", state="hidden and cell states",
                          start="h0, and c0 = 0"))),
    "word_embedding_forward": (
        hint("out[n, t] = W[x[n, t]], the row of W for each id: out = W[x]"),),
    "temporal_affine_forward": (
        hint("out = x @ w + b at every step: reshape x to (N*T, D), multiply, reshape back"),),
    "temporal_softmax_loss": (
        hint("dx is right but the loss is not: loss = -(1/N) * the sum over counted positions "
             "of log p[y], p the softmax of x", wrong=["loss"], right=["dx"]),
        hint("the loss is right but dx is not: dx = (p - 1 at y) * mask / N, p the softmax of x",
             wrong=["dx"], right=["loss"]),
        hint("p = softmax of x over its last axis (subtract the max first); loss = -(1/N) * the "
             "sum over counted positions of log p[y]; dx = (p - 1 at y) * mask / N")),
}


# =========================================================================== the functions

_STEP_LSTM = ["lstm_dc_no_h_path", "lstm_dc_only_h_path", "lstm_sigmoid_of_activated",
              "lstm_tanh_of_tanh_c", "lstm_tanh_of_g", "lstm_dprev_c_is_dc", "lstm_do_uses_dc"]
_SEQ = ["seq_no_dnext_h", "seq_weights_assigned", "seq_final_state_ignored", "seq_loop_forward"]
_FWD_LSTM = ["lstm_h_no_tanh", "lstm_g_sigmoid", "lstm_gate_order"]
_GATES = ["lstm_gate_order", "lstm_backward_gate_order"]

_FUNCTIONS = [
    _fn("rnn_step_forward", "rnn_step_forward(x, prev_h, Wx, Wh, b)", "next_h", """
    One timestep of a vanilla RNN with a tanh activation:

        next_h = tanh(x @ Wx + prev_h @ Wh + b)

    x: (N, D) inputs; prev_h: (N, H) previous hidden state;
    Wx: (D, H); Wh: (H, H); b: (H,)
    Returns next_h (N, H) and a cache of what the backward pass needs.
    """),
    _fn("rnn_step_backward", "rnn_step_backward(dnext_h, cache)", "dx dprev_h dWx dWh db", """
    Backward pass for one RNN timestep.

    dnext_h: (N, H) gradient of the loss with respect to next_h.
    Returns dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,).
    Hint: next_h = tanh(a), and tanh'(a) = 1 - tanh(a)**2 = 1 - next_h**2.
    """, "backward", ["rnn_tanh_of_activated"]),
    _fn("rnn_forward", "rnn_forward(x, h0, Wx, Wh, b)", "h", """
    A vanilla RNN over a whole sequence of T steps (call rnn_step_forward T times).

    x: (N, T, D); h0: (N, H) initial hidden state; Wx: (D, H); Wh: (H, H); b: (H,)
    Returns h (N, T, H), the hidden state of every step, and a cache.
    """),
    _fn("rnn_backward", "rnn_backward(dh, cache)", "dx dh0 dWx dWh db", """
    Backward pass over the whole sequence.

    dh: (N, T, H) upstream gradient of every hidden state (from the layer above only).
    Returns dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,).
    Hint: h_t feeds the layer above *and* step t+1, so the gradient entering step t is
    dh[:, t] + dprev_h from step t+1. Wx, Wh and b are used at every step: sum (+=)
    their gradients over time.
    """, "backward", ["rnn_tanh_of_activated"] + _SEQ),
    _fn("word_embedding_forward", "word_embedding_forward(x, W)", "out", """
    Look up a vector for each integer id.

    x: (N, T) integer ids in [0, V); W: (V, D)
    Returns out (N, T, D), out[n, t] = W[x[n, t]], and a cache.
    """),
    _fn("word_embedding_backward", "word_embedding_backward(dout, cache)", "dW", """
    dout: (N, T, D). Returns dW (V, D): each row of dW sums dout over every position
    where that id occurs. Hint: ids repeat; np.add.at adds repeated indices.
    """, "backward", ["embedding_assign"]),
    _fn("temporal_affine_forward", "temporal_affine_forward(x, w, b)", "out", """
    An affine layer applied at every timestep.

    x: (N, T, D); w: (D, M); b: (M,)
    Returns out (N, T, M) = x @ w + b, and a cache.
    """, provided=True),
    _fn("temporal_affine_backward", "temporal_affine_backward(dout, cache)", "dx dw db", """
    dout: (N, T, M). Returns dx (N, T, D), dw (D, M), db (M,).
    w and b are used at every (n, t): sum their gradients over the batch *and* time.
    """, "backward", provided=True),
    _fn("temporal_softmax_loss", "temporal_softmax_loss(x, y, mask)", "loss dx", """
    Softmax cross-entropy at every timestep.

    x: (N, T, V) scores; y: (N, T) target ids in [0, V); mask: (N, T) booleans, False
    where a position does not count.
    loss = -(1/N) * sum over n, t of mask[n, t] * log softmax(x[n, t])[y[n, t]]
    (summed over time, averaged over the batch).
    Returns loss (a float) and dx (N, T, V), its gradient with respect to x.
    """, mistakes=["softmax_divide_NT", "softmax_ignores_mask"], provided=True),
    _fn("lstm_step_forward", "lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)", "next_h next_c", """
    One LSTM timestep. The four gates are fused: a = x @ Wx + prev_h @ Wh + b is (N, 4H)
    and holds, in this order, the input gate i, forget gate f, output gate o and the
    candidate g:

        i = sigmoid(a[:, :H])      f = sigmoid(a[:, H:2H])
        o = sigmoid(a[:, 2H:3H])   g = tanh(a[:, 3H:])
        next_c = f * prev_c + i * g
        next_h = o * tanh(next_c)

    x: (N, D); prev_h, prev_c: (N, H); Wx: (D, 4H); Wh: (H, 4H); b: (4H,)
    Returns next_h (N, H), next_c (N, H) and a cache.
    """, mistakes=_FWD_LSTM),
    _fn("lstm_step_backward", "lstm_step_backward(dnext_h, dnext_c, cache)",
        "dx dprev_h dprev_c dWx dWh db", """
    Backward pass for one LSTM timestep.

    dnext_h, dnext_c: (N, H) gradients of the loss with respect to next_h and next_c.
    Returns dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    Hints: next_c reaches the loss directly *and* through next_h = o * tanh(next_c);
    the stored gates are already activated, so sigmoid'(a_i) = i * (1 - i).
    """, "backward", _STEP_LSTM + _GATES),
    _fn("lstm_forward", "lstm_forward(x, h0, Wx, Wh, b)", "h", """
    An LSTM over a whole sequence of T steps (call lstm_step_forward T times).
    The initial cell state is zero.

    x: (N, T, D); h0: (N, H); Wx: (D, 4H); Wh: (H, 4H); b: (4H,)
    Returns h (N, T, H) and a cache.
    """, mistakes=_FWD_LSTM),
    _fn("lstm_backward", "lstm_backward(dh, cache)", "dx dh0 dWx dWh db", """
    Backward pass over the whole sequence.

    dh: (N, T, H) upstream gradient of every hidden state (from the layer above only).
    Returns dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    Hint: the gradient entering step t is dh[:, t] + dprev_h from step t+1, together
    with dprev_c from step t+1; sum (+=) the weight gradients over time.
    """, "backward", _STEP_LSTM + _GATES + _SEQ + ["lstm_seq_dc_not_carried"]),
]
FUNCTIONS = {f.name: f for f in _FUNCTIONS}

# charlstm's own names for the same layers are checked too.
ALIASES = {"embedding_forward": "word_embedding_forward",
           "embedding_backward": "word_embedding_backward"}


# =========================================================================== how they are called

COURSEWORK = "coursework signature"
RNN_FINAL = "charlstm's extended signature: final state out"
LSTM_FINAL = "coursework signature, final states out (h, hT, cT)"
LSTM_C0 = "c0 in (x, h0, c0, Wx, Wh, b)"
EXTENDED_LSTM = "charlstm's extended signature: c0 in, final states out"
MASK_OPTIONAL = "mask optional: checked in charlstm's convention, loss averaged over the counted positions"
NO_MASK = "no mask: every position counts, loss divided by N"

# Some courses reuse the assignment with sequences time-major (x (T, N, D)) or one
# sequence at a time (x (T, D)); a step function may take one vector (x (D,)).
SEQUENCE_LAYOUTS = (BATCH_FIRST, TIME_MAJOR, UNBATCHED)
STEP_LAYOUTS = (BATCH_FIRST, UNBATCHED)


def _laid_out(conventions, layouts):
    """Each convention in each layout, layout by layout (the coursework's first)."""
    out = []
    for lay in layouts:
        for c in conventions:
            out.append(c if lay is BATCH_FIRST else c.in_layout(lay, f"{c.label}; {_words(c, lay)}"))
    return out


def _words(conv, lay):
    """'time-major layout: x (T, N, D), h (T, N, H)', from the family's axes."""
    fam = conv.family

    def shape(name):
        axes = lay.axes(fam.axes_of(name))
        return f"{name} ({', '.join(axes)}{',' if len(axes) == 1 else ''})"
    out = "dx" if fam.name == "temporal_softmax_loss" else fam.outputs[0]
    if lay is UNBATCHED:
        what = "unbatched (one sequence)" if "T" in fam.axes_of("x") else "unbatched (one vector)"
    else:
        what = f"{lay.name} layout"
    return f"{what}: {shape(fam.inputs[0])}, {shape(out)}"


def _softmax_is(kind):
    """classic: a third parameter, mask (or any name) without a default; mean: a mask with a
    default (charlstm's own); none: no mask parameter at all (x, y, verbose=False)."""
    def accepts(p):
        has = "mask" in p.names
        if kind == "mean":
            return has and p.has_default("mask")
        if kind == "classic":
            return p.takes(3) and ((has and not p.has_default("mask")) or (not has and p.required >= 3))
        return not has and p.takes(2) and p.required <= 2
    return accepts


def _pair(forward, backward, conventions, layouts, step=None):
    return Pair(FUNCTIONS[forward], backward and FUNCTIONS[backward],
                tuple(_laid_out(conventions, layouts)), step)


_FIVE, _SIX = (lambda p: p.takes(5)), (lambda p: p.takes(6) and not p.takes(5))    # c0 in or not

PAIRS = [
    _pair("rnn_step_forward", "rnn_step_backward", [
        Convention(COURSEWORK, F.RNN_STEP, backward_args=("dnext_h", "cache"))], STEP_LAYOUTS),
    _pair("rnn_forward", "rnn_backward", [
        Convention(COURSEWORK, F.rnn(), backward_args=("dh", "cache")),
        Convention(RNN_FINAL, F.rnn(final=True), backward_args=("dh", "cache", "dhT"),
                   optional=("dhT",))], SEQUENCE_LAYOUTS, step="rnn_step_forward"),
    _pair("word_embedding_forward", "word_embedding_backward", [
        Convention(COURSEWORK, F.WORD_EMBEDDING, backward_args=("dout", "cache"))], SEQUENCE_LAYOUTS),
    _pair("temporal_affine_forward", "temporal_affine_backward", [
        Convention(COURSEWORK, F.TEMPORAL_AFFINE, backward_args=("dout", "cache"))], SEQUENCE_LAYOUTS),
    _pair("temporal_softmax_loss", None, [
        Convention(COURSEWORK, F.softmax_loss(), cache=False, accepts=_softmax_is("classic")),
        Convention(MASK_OPTIONAL, F.softmax_loss(mean=True), cache=False, accepts=_softmax_is("mean")),
        Convention(NO_MASK, F.softmax_loss(mask=False), cache=False, accepts=_softmax_is("none"))],
          SEQUENCE_LAYOUTS),
    _pair("lstm_step_forward", "lstm_step_backward", [
        Convention(COURSEWORK, F.LSTM_STEP, backward_args=("dnext_h", "dnext_c", "cache"))], STEP_LAYOUTS),
    _pair("lstm_forward", "lstm_backward", [
        Convention(COURSEWORK, F.lstm(), backward_args=("dh", "cache"), accepts=_FIVE),
        Convention(LSTM_FINAL, F.lstm(final=True), backward_args=("dh", "cache", "dhT", "dcT"),
                   optional=("dhT", "dcT"), accepts=_FIVE),
        Convention(LSTM_C0, F.lstm(c0=True), backward_args=("dh", "cache"), accepts=_SIX),
        Convention(EXTENDED_LSTM, F.lstm(c0=True, final=True), backward_args=("dh", "cache", "dhT", "dcT"),
                   optional=("dhT", "dcT"), accepts=_SIX)], SEQUENCE_LAYOUTS, step="lstm_step_forward"),
]


# =========================================================================== the template

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
        s = FUNCTIONS[name]
        doc = textwrap.indent(textwrap.dedent(s.doc).strip(), "    ").lstrip()
        parts.append(f'\ndef {s.signature}:\n    """{doc}\n    """\n    raise NotImplementedError\n')
    return "\n".join(parts)
