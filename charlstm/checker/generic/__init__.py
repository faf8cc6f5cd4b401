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

The parts, each in its own file: measure.py (calling the learner's code, finite
differences, the error measure), gates.py (which block of a parameter is which gate),
localise.py (which gates, from which sequence length on), diagnosis.py (what a wrong
gradient did, in words), inputs.py (the arguments, checked first), report.py (text,
HTML, JSON).
"""

from __future__ import annotations

import numpy as np

from .diagnosis import diagnose, run_notes
from .gates import gate_layouts
from .inputs import check_order, check_params, check_sequence
from .measure import PRECISION, SAMPLES, GradientCheckError, Run, lengths_to_try
from .report import GradientReport, LengthResult

__all__ = ["check_gradients", "GradientCheckError", "GradientReport", "PRECISION", "SAMPLES"]


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
    check_params(params)
    T = check_sequence(sequence)
    if not callable(loss) or not callable(grads):
        raise GradientCheckError("loss and grads must be functions: loss(*sequence) -> a "
                                 "number, grads(*sequence) -> {name: gradient}")
    if samples is not None and (not isinstance(samples, (int, np.integer)) or samples < 1):
        raise GradientCheckError(f"samples={samples!r}: give a positive number of elements "
                                 "per parameter, or None for all of them")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GradientCheckError(f"seed={seed!r}: give a non-negative integer")
    gate_order = check_order(gate_order)
    layouts, gate_note = gate_layouts(params, gate_order)
    run = Run(params, loss, grads, sequence, T, samples, seed, layouts)
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
    findings = diagnose(run, first, lengths, T)
    notes = run_notes(run, gate_note, first)
    return GradientReport(
        ok=full.ok, shortest_failing_length=shortest, length=first.length,
        parameters=first.params, lengths=lengths if T is not None else [],
        findings=findings, notes=notes, threshold=run.threshold, step=run.step,
        samples=samples, seed=seed, evaluations=run.evaluations)


def _shortest(run, full):
    """Check prefixes: 1, 2, 3, 4, 8, 16, ... then bisect; {length: LengthResult}."""
    out, lo = {}, 0
    hi = full.length
    for L in lengths_to_try(full.length):
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
