"""The catalogue: the mistakes learners make in an RNN/LSTM, each a switch on a naive layer.

``lstm_step``, ``rnn_step``, ``sequence``, ``embedding_backward`` and ``softmax_loss``
are the coursework layers written the plain way, as in the lecture. Each takes ``k``, a
dict of "knobs": with no knob on they compute the right answer (the tests hold them
equal to ``layers.py``); each knob switches on one known mistake, e.g.

    lstm_step(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c, k={"dprev_c_is_dc": True})

returns the gradients a learner gets who wrote ``dprev_c = dc``. ``CATALOGUE`` says, for
each mistake, what the wrong code does, which equation it breaks and how to fix it;
``KNOBS`` says which switch turns it on. ``charlstm check`` compares a learner's results
with these variants: a match to round-off names the mistake. The names here are the
coursework's (cs231n's); an API module says which mistakes apply to which of its functions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


# =========================================================================== the layers, naively
# Small and slow on purpose: one line per equation.

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step(x, prev_h, prev_c, Wx, Wh, b, dnext_h=None, dnext_c=None, k={}):
    """LSTM step forward, and backward if dnext_h is given, with mistakes ``k`` on.

    Returns (next_h, next_c) and, with dnext_h, the gradients as a dict.
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b                                   # (N, 4H)
    order = k.get("order", "ifog")                                 # which slice is which gate
    blk = {gate: a[:, j * H:(j + 1) * H] for j, gate in enumerate(order)}
    i, f, o = sigmoid(blk["i"]), sigmoid(blk["f"]), sigmoid(blk["o"])
    g = sigmoid(blk["g"]) if k.get("g_sigmoid") else np.tanh(blk["g"])
    next_c = f * prev_c + i * g                                    # c_t = f c_{t-1} + i g
    tc = np.tanh(next_c)
    next_h = o * (next_c if k.get("h_no_tanh") else tc)            # h_t = o tanh(c_t)
    if dnext_h is None:
        return next_h, next_c
    dtanh_c = 1 - (np.tanh(tc) if k.get("tanh_of_tanh_c") else tc) ** 2
    via_h = dnext_h * o * dtanh_c                                  # c_t -> h_t -> loss
    dc = {"both": dnext_c + via_h, "no_h_path": dnext_c,
          "only_h_path": via_h}[k.get("dc", "both")]
    twice = k.get("sigmoid_of_activated", "")                      # gates differentiated wrongly

    def ds(s, gate):                                               # sigmoid' via its output
        return sigmoid(s) * (1 - sigmoid(s)) if gate in twice else s * (1 - s)
    dg_local = 1 - (np.tanh(g) if k.get("tanh_of_g") else g) ** 2
    d = {"i": dc * g * ds(i, "i"), "f": dc * prev_c * ds(f, "f"),
         "o": (dc if k.get("do_uses_dc") else dnext_h) * tc * ds(o, "o"),
         "g": dc * i * dg_local}
    da = np.hstack([d[gate] for gate in k.get("backward_order", order)])
    dx, dprev_h = da @ Wx.T, da @ Wh.T
    if k.get("dx_from_h_rows"):                                    # W_k on [h; x]: wrong rows
        S = np.vstack([Wh, Wx])                                    # (H + D, 4H), h rows first
        dx = da @ S[:x.shape[1]].T
    grads = {"dx": dx, "dprev_h": dprev_h,
             "dprev_c": dc if k.get("dprev_c_is_dc") else dc * f,
             "dWx": x.T @ da, "dWh": prev_h.T @ da, "db": da.sum(0)}
    return (next_h, next_c), grads


def rnn_step(x, prev_h, Wx, Wh, b, dnext_h=None, k={}):
    """tanh-RNN step forward, and backward if dnext_h is given, with mistakes ``k`` on."""
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    if dnext_h is None:
        return next_h
    dtanh = 1 - (np.tanh(next_h) if k.get("tanh_of_activated") else next_h) ** 2
    da = dnext_h * dtanh
    dprev_h = da @ Wh if k.get("Wh_not_transposed") else da @ Wh.T
    return next_h, {"dx": da @ Wx.T, "dprev_h": dprev_h, "dWx": x.T @ da,
                    "dWh": prev_h.T @ da, "db": da.sum(0)}


def sequence(step, x, state0, weights, dh=None, dstateT=None, k={}, every_state=False):
    """Run ``step`` over time (forward) and back (backward, if dh is given).

    state0: (h0,) or (h0, c0); dstateT likewise, or None. The forward returns h and the
    last state (every step's state with ``every_state``). Mistakes in ``k``:
    no_dnext_h (step t gets dh[:, t] alone), dc_not_carried, assigned (weight gradients
    '=' instead of '+='), final_ignored (dstateT dropped).
    """
    N, T, _ = x.shape
    states, hs = [state0], []
    for t in range(T):
        out = step(x[:, t], *states[-1], *weights, k=k)
        out = out if isinstance(out, tuple) else (out,)
        states.append(out)
        hs.append(out[0])
    h = np.stack(hs, axis=1)
    if dh is None:
        return h, (states[1:] if every_state else states[-1])
    dnext = [np.zeros_like(s) for s in state0]
    if dstateT is not None and not k.get("final_ignored"):
        dnext = [np.array(d, dtype=np.float64) for d in dstateT]
    dx = np.zeros_like(x)
    dW = None
    for t in range(T) if k.get("loop_forward") else reversed(range(T)):
        up = list(dnext)
        up[0] = dh[:, t] if k.get("no_dnext_h") else dh[:, t] + dnext[0]
        if len(up) > 1 and k.get("dc_not_carried"):
            up[1] = np.zeros_like(up[1])
        _, g = step(x[:, t], *states[t], *weights, *up, k=k)
        dx[:, t] = g["dx"]
        dnext = [g["dprev_h"]] + ([g["dprev_c"]] if len(up) > 1 else [])
        gw = [g["dWx"], g["dWh"], g["db"]]
        dW = gw if dW is None or k.get("assigned") else [a + b for a, b in zip(dW, gw)]
    grads = {"dx": dx, "dh0": dnext[0], "dWx": dW[0], "dWh": dW[1], "db": dW[2]}
    if len(dnext) > 1:
        grads["dc0"] = dnext[1]
    return (h, states[-1]), grads


def embedding_backward(x, V, dout, k={}):
    dW = np.zeros((V, dout.shape[-1]))
    if k.get("assign"):
        dW[x] = dout                                               # repeated ids: one survives
    else:
        np.add.at(dW, x, dout)
    return dW


def softmax_loss(x, y, mask, k={}, divide_by=None):
    """Softmax cross-entropy summed over (n, t) where mask, divided by ``divide_by``."""
    N, T, V = x.shape
    m = np.ones((N, T), bool) if (mask is None or k.get("ignore_mask")) else mask.astype(bool)
    div = divide_by if divide_by is not None else N
    if k.get("divide_NT"):
        div = N * T
    p = np.exp(x - x.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    rows = np.arange(N)[:, None], np.arange(T)[None, :], y
    loss = -np.sum(np.log(p[rows]) * m) / div
    dx = p.copy()
    dx[rows] -= 1
    dx *= m[:, :, None] / div
    return loss, dx


# =========================================================================== catalogue

@dataclass(frozen=True)
class Mistake:
    """A known mistake: what the wrong code does, the equation it breaks, the fix."""
    id: str
    what: str              # completes "... matches a {kind} in which {what}"
    equation: str
    fix: str
    step: bool = False     # in one step's math (not in the loop over time)


_ALL = [
    Mistake("lstm_dc_no_h_path",
            "dc ignores h_t = o * tanh(c_t): dc = dnext_c",
            "dc_t = dnext_c + dnext_h * o * (1 - tanh(c_t)**2)   (c_t reaches the loss through c_{t+1} and through h_t)",
            "add dnext_h * o * (1 - tanh(next_c)**2) to dnext_c",
            step=True),
    Mistake("lstm_dc_only_h_path",
            "dc keeps only the path through h_t and drops dnext_c",
            "dc_t = dnext_c + dnext_h * o * (1 - tanh(c_t)**2)",
            "dc = dnext_c + dnext_h * o * (1 - tanh(next_c)**2): keep the gradient arriving from c_{t+1}",
            step=True),
    Mistake("lstm_sigmoid_of_activated",
            "the sigmoid derivative of {detail} is taken of the already-activated value, as in sigmoid(i) * (1 - sigmoid(i))",
            "d sigmoid(a)/da = s * (1 - s) where s = sigmoid(a) is the gate you stored",
            "the stored gates are already sigmoid outputs: use i * (1 - i), f * (1 - f), o * (1 - o)",
            step=True),
    Mistake("lstm_tanh_of_tanh_c",
            "the derivative of tanh(c_t) is computed as 1 - tanh(tanh(c_t))**2",
            "d tanh(c)/dc = 1 - tanh(c)**2",
            "if you stored tanh(next_c), use 1 - tanh_c**2 with no second tanh",
            step=True),
    Mistake("lstm_tanh_of_g",
            "the candidate's derivative is computed as 1 - tanh(g)**2, though g is already tanh(a_g)",
            "d tanh(a)/da = 1 - g**2 where g = tanh(a) is the candidate you stored",
            "use 1 - g**2",
            step=True),
    Mistake("lstm_do_uses_dc",
            "the output gate's gradient uses dc instead of dnext_h",
            "h_t = o * tanh(c_t): o reaches the loss only through h_t, so do = dnext_h * tanh(c_t)",
            "do = dnext_h * tanh(next_c) * o * (1 - o)",
            step=True),
    Mistake("lstm_dprev_c_is_dc",
            "dprev_c is returned as dc instead of dc * f",
            "c_t = f * c_{t-1} + i * g, so dL/dc_{t-1} = dc_t * f",
            "return dc * f as dprev_c",
            step=True),
    Mistake("lstm_backward_gate_order",
            "the gate gradients are stacked in the order {detail}, but the forward takes its gates from a in the order i, f, o, g",
            "da = [di, df, do, dg]: the same order as a = x Wx + prev_h Wh + b is sliced in the forward",
            "stack da as np.hstack([di, df, do, dg]) (PyTorch orders its gates i, f, g, o; the coursework and charlstm use i, f, o, g)",
            step=True),
    Mistake("lstm_gate_order",
            "the gates are sliced from a in the order {detail} instead of i, f, o, g",
            "i = sigmoid(a[:, :H]), f = sigmoid(a[:, H:2H]), o = sigmoid(a[:, 2H:3H]), g = tanh(a[:, 3H:])",
            "slice a in the order i, f, o, g, in the forward and the backward (PyTorch uses i, f, g, o; the coursework does not)"),
    Mistake("lstm_h_no_tanh",
            "h_t = o * c_t, without the tanh",
            "h_t = o * tanh(c_t)",
            "next_h = o * np.tanh(next_c)"),
    Mistake("lstm_g_sigmoid",
            "the candidate g uses a sigmoid instead of tanh",
            "g = tanh(a[:, 3H:])",
            "g = np.tanh(a[:, 3H:])  (only i, f and o are sigmoids)"),
    Mistake("rnn_tanh_of_activated",
            "tanh's derivative is computed as 1 - tanh(next_h)**2, of an already-activated value",
            "next_h = tanh(a), so da = dnext_h * (1 - next_h**2)",
            "use 1 - next_h**2 (next_h is already tanh(a))",
            step=True),
    Mistake("rnn_dprev_h_not_transposed",
            "dprev_h = da @ Wh, without the transpose (Wh is square, so the shape cannot tell)",
            "next_h = tanh(x @ Wx + prev_h @ Wh + b), so dprev_h = da @ Wh.T",
            "dprev_h = da @ Wh.T",
            step=True),
    Mistake("concat_dx_wrong_rows",
            "dx is computed from the first D rows of the stacked [Wh; Wx], the rows that multiply h, instead of the last D",
            "the gates are [h, x] @ [Wh; Wx] + b with h first: the first H rows multiply h, the last D multiply x",
            "dx = da @ Wx.T, with Wx the last D rows of the stacked matrix",
            step=True),
    Mistake("seq_no_dnext_h",
            "each step's backward gets only dh[:, t]: the gradient flowing back from step t+1 is dropped",
            "dL/dh_t = dh[:, t] (from above) + dprev_h (from step t+1)",
            "call the step backward with dh[:, t] + dprev_h, where dprev_h came from step t+1"),
    Mistake("seq_loop_forward",
            "the backward loop runs forward in time (t = 0, 1, ...), so step t is processed before the gradient from step t+1 exists",
            "dL/dh_t needs dprev_h from step t+1: the backward must visit t = T-1, ..., 0",
            "for t in reversed(range(T)):"),
    Mistake("lstm_seq_dc_not_carried",
            "dnext_c is reset to zero at every step instead of carrying dprev_c back",
            "dL/dc_t = dprev_c returned by step t+1",
            "pass the dprev_c returned by step t+1 as dnext_c of step t"),
    Mistake("seq_weights_assigned",
            "the weight gradients are assigned at every step (dWx = dWx_t) instead of summed over time, so only step 0 survives",
            "dWx = sum over t of x_t^T da_t (the same Wx is used at every step)",
            "start dWx, dWh, db at zero and add each step's: dWx += dWx_t, dWh += dWh_t, db += db_t"),
    Mistake("seq_final_state_ignored",
            "the gradients of the final states (dhT, dcT) are ignored",
            "the backward recursion starts from dnext_h = dhT (and dnext_c = dcT), not from zeros",
            "initialise dnext_h (and dnext_c) from dhT (and dcT) when they are given"),
    Mistake("embedding_assign",
            "dW[x] = dout: where an id occurs several times in x, only one of its gradients survives",
            "dW[v] = sum of dout[n, t] over every (n, t) with x[n, t] == v",
            "np.add.at(dW, x, dout), which adds repeated indices (dW[x] += dout does not)"),
    Mistake("softmax_divide_NT",
            "the loss and dx are divided by N * T instead of N",
            "loss = -(1/N) * sum over n, t of mask[n, t] * log p[n, t, y[n, t]]",
            "divide by N, the batch size: the loss is summed over time and averaged over the batch"),
    Mistake("softmax_ignores_mask",
            "the mask is ignored: positions with mask False count toward the loss",
            "only positions with mask[n, t] True contribute to the loss and to dx",
            "multiply each position's log-probability and its row of dx by mask[n, t]"),
    # Shape-level mistakes, recognised on any output (see _transform).
    Mistake("transposed",
            "{detail}",
            "a gradient has the shape of what it is the gradient of; dWx = x^T da has Wx's shape",
            "{fix}"),
    Mistake("keepdims",
            "{detail}",
            "a gradient has its parameter's shape: db is (4H,) like b, not (1, 4H)",
            "{fix}"),
    Mistake("not_summed",
            "{detail}",
            "a parameter used at every position gets the sum of the gradients of all positions",
            "{fix}"),
    Mistake("scaled",
            "{detail}",
            "{equation}",
            "{fix}"),
]
CATALOGUE = {m.id: m for m in _ALL}

# Which knobs turn each mistake on, for the variant search.
KNOBS = {
    "lstm_dc_no_h_path": {"dc": "no_h_path"},
    "lstm_dc_only_h_path": {"dc": "only_h_path"},
    "lstm_tanh_of_tanh_c": {"tanh_of_tanh_c": True},
    "lstm_tanh_of_g": {"tanh_of_g": True},
    "lstm_dprev_c_is_dc": {"dprev_c_is_dc": True},
    "lstm_do_uses_dc": {"do_uses_dc": True},
    "seq_loop_forward": {"loop_forward": True},
    "lstm_h_no_tanh": {"h_no_tanh": True},
    "lstm_g_sigmoid": {"g_sigmoid": True},
    "rnn_tanh_of_activated": {"tanh_of_activated": True},
    "rnn_dprev_h_not_transposed": {"Wh_not_transposed": True},
    "concat_dx_wrong_rows": {"dx_from_h_rows": True},
    "seq_no_dnext_h": {"no_dnext_h": True},
    "lstm_seq_dc_not_carried": {"dc_not_carried": True},
    "seq_weights_assigned": {"assigned": True},
    "seq_final_state_ignored": {"final_ignored": True},
    "embedding_assign": {"assign": True},
    "softmax_divide_NT": {"divide_NT": True},
    "softmax_ignores_mask": {"ignore_mask": True},
}
ORDERS = ["".join(p) for p in itertools.permutations("ifog") if "".join(p) != "ifog"]
SUBSETS = ["ifo", "i", "f", "o", "if", "io", "fo"]
# Mistakes with a parameter, tried with every value: knob, values, the words for a value.
EXPAND = {
    "lstm_gate_order": ("order", ORDERS, ", ".join),
    "lstm_backward_gate_order": ("backward_order", ORDERS, ", ".join),
    "lstm_sigmoid_of_activated": ("sigmoid_of_activated", SUBSETS,
                                  lambda g: {"ifo": "the gates i, f and o"}.get(
                                      g, f"the gate{'s' if len(g) > 1 else ''} " + " and ".join(g))),
}


def singles(ids):
    """(mistake id, detail, knobs, common) for each mistake, parameters expanded; common
    marks the values also tried in pairs (all three gates, PyTorch's gate order)."""
    out = []
    for m in ids:
        if m in EXPAND:
            key, values, words = EXPAND[m]
            out += [(m, words(v), {key: v}, v in ("ifo", "ifgo")) for v in values]
        else:
            out.append((m, "", KNOBS[m], True))
    return out
