"""min-char-rnn (Karpathy's character-level RNN in one file): ``lossFun``, as its gist writes it.

    lossFun(inputs, targets, hprev) -> loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs)-1]

reads its weights from the module: Wxh (H, V), Whh (H, H), Why (V, H), bh (H, 1), by (V, 1),
and vocab_size for its one-hot columns; inputs and targets are lists of character ids, hprev
(H, 1) the hidden state before the first. Column vectors, one sequence, the loss summed over
it, the gradients clipped to [-5, 5] inside lossFun.

The file reads input.txt and trains forever at import (and is often Python 2): the checker
loads it tolerantly (the `while True:` loop is not run) and supplies the globals itself,
at sizes small enough that the clip never fires. It compares the loss and the last hidden
state with a reference, and checks every gradient with ``check_gradients`` over the
sequence and its prefixes (the shortest length at which a gradient is wrong).

LSTM variants (``lossFun(inputs, targets, hprev, cprev)``, their own weights) are not this
API: they get the adapter for ``check_gradients``.

This module only describes; ``engine.py`` does the checking.
"""

from __future__ import annotations

import textwrap

import numpy as np

from . import Function, LossFunction, hint

NAME = "minchar"
TITLE = "min-char-rnn"
STRICT = True       # a lossFun of another signature (an LSTM's, with cprev) is another program
WEIGHTS = ("Wxh", "Whh", "Why", "bh", "by")
V, H, T = 7, 5, 8           # vocab_size, hidden_size, len(inputs): all different


def setup(rng):
    """The module globals lossFun reads, one sequence and hprev; the weights large enough
    for gradients of 0.1 to 1, so that the check sees them, and below the clip at 5."""
    for scale in (0.5, 0.25, 0.1):
        g = {"vocab_size": V, "hidden_size": H,
             "Wxh": scale * rng.standard_normal((H, V)), "Whh": scale * rng.standard_normal((H, H)),
             "Why": scale * rng.standard_normal((V, H)), "bh": 0.1 * rng.standard_normal((H, 1)),
             "by": 0.1 * rng.standard_normal((V, 1))}
        inputs, targets = [int(i) for i in rng.integers(0, V, T)], [int(i) for i in rng.integers(0, V, T)]
        hprev = 0.5 * rng.standard_normal((H, 1))
        ref = reference(g, inputs, targets, hprev)
        if max(float(np.max(np.abs(ref["d" + w]))) for w in WEIGHTS) < 4:
            break
    return g, (inputs, targets), {"hprev": hprev}


def reference(g, inputs, targets, hprev):
    """lossFun's outputs, computed plainly (no clipping: the sizes keep the gradients below it)."""
    hs, ps, loss = {-1: hprev}, {}, 0.0
    for t, ix in enumerate(inputs):
        hs[t] = np.tanh(g["Wxh"][:, [ix]] + g["Whh"] @ hs[t - 1] + g["bh"])
        y = g["Why"] @ hs[t] + g["by"]
        ps[t] = np.exp(y - y.max()) / np.exp(y - y.max()).sum()
        loss -= np.log(ps[t][targets[t], 0])
    d = {w: np.zeros_like(g[w]) for w in WEIGHTS}
    dhnext = np.zeros_like(hprev)
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1                                  # softmax + cross-entropy
        d["Why"] += dy @ hs[t].T
        d["by"] += dy
        dhraw = (1 - hs[t] ** 2) * (g["Why"].T @ dy + dhnext)
        d["bh"] += dhraw
        d["Wxh"][:, [inputs[t]]] += dhraw
        d["Whh"] += dhraw @ hs[t - 1].T
        dhnext = g["Whh"].T @ dhraw
    return {"loss": np.asarray(loss), **{"d" + w: d[w] for w in WEIGHTS},
            "hs[len(inputs)-1]": hs[len(inputs) - 1]}


_HINTS = (
    hint("dWhh += np.dot(dhraw, hs[t-1].T): Whh multiplied hs[t-1], the hidden state the step "
         "started from (hprev at t = 0), not hs[t]", wrong=["dWhh"], only=["dWhh"]),
    hint("dWxh += np.dot(dhraw, xs[t].T), with xs[t] the one-hot input of step t",
         wrong=["dWxh"], only=["dWxh"]),
    hint("dbh += dhraw, the gradient through the tanh", wrong=["dbh"], only=["dbh"]),
    hint("dy = np.copy(ps[t]) with 1 subtracted at targets[t] (softmax and cross-entropy); "
         "dWhy += np.dot(dy, hs[t].T), dby += dy", any_wrong=["dWhy", "dby"], only=["dWhy", "dby"]),
    hint("dWhy and dby are right, so the gradient into the hidden state is wrong: dh = "
         "np.dot(Why.T, dy) + dhnext (from the output and from step t+1), dhraw = "
         "(1 - hs[t] * hs[t]) * dh, dhnext = np.dot(Whh.T, dhraw) for the step before",
         right=["dWhy", "dby"], any_wrong=["dWxh", "dWhh", "dbh"]),
    hint("dy = np.copy(ps[t]) with 1 subtracted at targets[t]: every gradient is computed from it",
         wrong=["dWxh", "dWhh", "dWhy", "dbh", "dby"]),
)

LOSSFUN = Function("lossFun", "lossFun(inputs, targets, hprev)",
                   ("loss", "dWxh", "dWhh", "dWhy", "dbh", "dby", "hs[len(inputs)-1]"),
                   textwrap.dedent("""
    The loss of one sequence and its gradients over the module's weights.

    inputs, targets: lists of character ids (the same length); hprev: (H, 1).
    Reads Wxh (H, V), Whh (H, H), Why (V, H), bh (H, 1), by (V, 1) and vocab_size.
        hs[t] = tanh(Wxh @ x_t + Whh @ hs[t-1] + bh)    x_t one-hot (V, 1)
        ps[t] = softmax(Why @ hs[t] + by)
        loss = -sum over t of log ps[t][targets[t]]
    Returns loss, dWxh, dWhh, dWhy, dbh, dby and hs[len(inputs)-1].
    """).strip("\n"), kind="loss", hints=_HINTS)

LOSSES = (LossFunction(LOSSFUN, weights=WEIGHTS, setup=setup, reference=reference,
                       gradients=tuple(zip(("dWxh", "dWhh", "dWhy", "dbh", "dby"), WEIGHTS))),)
FUNCTIONS = {"lossFun": LOSSFUN}
ALIASES = {}
PAIRS = ()
TEMPLATES = {}
