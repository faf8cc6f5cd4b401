"""Which part of a parameter is which gate: from the names (Wi, Wf, ...; Wz, Wr, Wh) or from
a fused axis of 4H (LSTM) or 3H (GRU)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .report import and_list

LSTM_ORDER, GRU_ORDER = "ifog", "rzn"   # how a fused 4H / 3H axis is read unless told


@dataclass
class GateLayout:
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
    """{name: GateLayout} for parameters with an axis of k*H, k = len(order) (4 or 3)."""
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
                out[name] = GateLayout(list(order), [_canon(g, kind) for g in order],
                                    axis=hits[0], size=H, how="axis")
        if out:
            return out, order, H
    return {}, None, None


def gate_layouts(params, gate_order):
    if gate_order == "":
        return {}, ""
    named = _named_gates(params)
    layouts = {n: GateLayout([g], [_canon(g, kind)]) for n, (g, kind) in named.items()}
    fused, order, H = _fused_gates(params, set(named), gate_order)
    layouts.update(fused)
    note = ""
    if fused and not gate_order:
        axes = and_list(fused)
        note = (f"read the axis of length {len(order) * H} of {axes} as {len(order)} gate blocks "
                f"in the order {', '.join(order)} (H = {H}); pass gate_order='fgio' (or your "
                "order) if yours differs, or gate_order='' if these are not gates")
    return layouts, note


def where_block(layout, j, ndim):
    lo, hi = j * layout.size, (j + 1) * layout.size
    axis = "elements" if ndim == 1 else ("rows" if layout.axis == 0 else "columns")
    H = layout.size
    span = lambda v: "0" if v == 0 else ("H" if v == H else f"{v // H}H")
    return f"{axis} {span(lo)}:{span(hi)}"
