"""What a wrong gradient did, in words: a constant factor (sign, 1/N, the sequence length),
its transpose, another parameter's gradient, clipped, zero; then the findings of every
kind in the order a learner reads them, and the notes on how the check ran."""

from __future__ import annotations

import numpy as np

from .localise import gate_findings, length_finding, swapped_blocks
from .measure import NOISE, PRECISION, rel_errors
from .report import and_list, plural


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


def diagnose(run, first, lengths, T):
    """The findings, in words: by length, per gradient, per gate, what is left."""
    thr = run.threshold
    if first.ok:
        return []
    params = first.params
    wrong = [p for p in params if not p.ok]
    L = first.length
    noise = NOISE * np.finfo(run.dtype).eps * max(1.0, abs(first.loss)) / run.step

    def close(a, b):            # equal to the check's tolerance
        return a.size == 0 or bool(np.max(rel_errors(a, b, noise / thr)) < thr)

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
        out = length_finding(run, first, lengths, wrong) if T is not None else []
    out += _say(kinds, params, L)
    block_swaps = swapped_blocks(run, first, wrong, close,
                               skip={n for k in kinds.values() for n, _ in k})
    out += [text for _, text in block_swaps if text]
    transformed = {n for k in ("transposed", "transposed_wrong", "factor", "swapped", "clipped")
                   for n, _ in kinds.get(k, [])} | {n for n, _ in block_swaps}
    gate_text = gate_findings(first, lengths, thr, transformed)
    out += gate_text
    explained = {n for k in kinds.values() for n, _ in k} | transformed
    rest = [p.name for p in wrong if p.name not in explained
            and not (gate_text and any(b.gate is not None for b in p.blocks))]
    right = [p.name for p in params if p.ok and p.exercised]
    if rest and (gate_text or block_swaps):
        msg = (f"Wrong too: {and_list(rest)}; in most code {plural(rest, 'it is', 'they are')} "
               "computed from the gate gradients (da @ W.T), so fix the gates first")
        out.append(msg + (f". Right: {and_list(right)}." if right else "."))
    elif rest:
        msg = f"Wrong: {and_list(rest)}"
        if right:
            msg += f". Right: {and_list(right)}. Look at the lines that compute only the wrong ones"
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
        out.append(f"{and_list(names)}: your gradient{plural(names, ' is the transpose', 's are the transposes')} "
                   f"of the right one{plural(names, '', 's')} ({why}). A weight's gradient is an "
                   "outer product in the order of the forward: for y = W @ x it is dy @ x.T, "
                   "for y = x @ W it is x.T @ dy; either way it has the shape of W.")
    for n, g in kinds.get("transposed_wrong", []):
        out.append(f"{n}: your gradient has shape {shape(g)}, the transpose of the parameter's "
                   f"{shape(_shape(params, n))}, and is wrong even transposed.")
    if "zero" in kinds:
        names = [n for n, _ in kinds["zero"]]
        out.append(f"{and_list(names)}: your gradient{plural(names, ' is', 's are')} zero wherever "
                   f"the check looked, but the loss depends on {plural(names, 'it', 'them')}{at}: "
                   "never filled in? (initialised with zeros and never added to, computed but "
                   "not returned, += on a copy, or = where += belongs, which keeps one step's "
                   "term: at the first step a recurrent weight's term is zero.)")
    if "should_be_zero" in kinds:
        names = [n for n, _ in kinds["should_be_zero"]]
        out.append(f"{and_list(names)}: changing {plural(names, 'it', 'them')} does not change the "
                   f"loss{at}, so {plural(names, 'its gradient', 'their gradients')} must be 0; "
                   f"yours {plural(names, 'is', 'are')} not (largest "
                   + ", ".join(f"|d{n}| {v:.1e}" for n, v in kinds["should_be_zero"]) + "). "
                   "Either a term is added that does not belong (e.g. the current state where "
                   "the previous one belongs: at the first step the previous state is zero), or "
                   f"params holds {plural(names, 'a copy', 'copies')}, not the array{plural(names, '', 's')} "
                   "your loss reads.")
    factors = {}
    for n, c in kinds.get("factor", []):
        factors.setdefault(_factor_words(c), []).append((n, c))
    for words, items in factors.items():
        names = [n for n, _ in items]
        everyone = len(names) == len(params)
        who = ("Every gradient is" if everyone else
               f"{and_list(names)}: your gradient{plural(names, ' is', 's are each')}")
        out.append(f"{who} {words}.{_factor_hint(items[0][1], L, everyone)}")
    clips = {}
    for n, m in kinds.get("clipped", []):
        clips.setdefault(m, []).append(n)
    for m, names in clips.items():
        out.append(f"{and_list(names)}: your gradient{plural(names, ' is', 's are')} clipped at "
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


def run_notes(run, gate_note, first):
    notes = []
    if run.dtype == np.float32:
        f32 = [n for n, p in run.params.items() if p.dtype == np.float32]
        notes.append(
            f"{and_list(f32)} {'is' if len(f32) == 1 else 'are'} float32. The check changes your "
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
            f"{and_list(p.name for p in sampled)}: {run.samples} sampled elements "
            f"{'each' if len(sampled) > 1 else ''} (seeded, every gate block included), not "
            "all: a mistake confined to a few elements can be missed; samples=None checks "
            "every element.")
    if run.extra:
        notes.append(f"grads also returned {and_list(map(str, run.extra))}, which "
                     f"{plural(run.extra, 'is', 'are')} not in params: not checked (add the "
                     "arrays to params to check them).")
    return notes
