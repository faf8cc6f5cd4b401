"""What check_gradients is given, checked before anything runs: the arrays, the sequence,
the gate order."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .measure import PRECISION, GradientCheckError


def check_params(params):
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


def check_sequence(sequence):
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


def check_order(gate_order):
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
