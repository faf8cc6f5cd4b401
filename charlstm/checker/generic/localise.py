"""Where a wrong gradient is wrong: which gates (and what a pattern of right and wrong gates
points at), which fused blocks hold another gate's gradient, and from which sequence length
on (inside one step, the carry from step t+1, a position)."""

from __future__ import annotations

from .report import and_list, plural

_EQUATION = {
    "i": "da_i = dc * g * i * (1 - i)",
    "f": "da_f = dc * c_prev * f * (1 - f)   (c_prev: the cell state of the step before)",
    "o": "da_o = dh * tanh(c) * o * (1 - o)   (dh: the whole gradient reaching h_t)",
    "g": "da_g = dc * i * (1 - g**2)   (g = tanh(a_g), so tanh' = 1 - g**2)",
}
_DC = "dc = dh * o * (1 - tanh(c)**2) + dc_next"


def swapped_blocks(run, first, wrong, close, skip):
    """[(name, text)] for fused parameters whose gate blocks hold each other's gradients."""
    out = []
    for p in wrong:
        blocks = [b for b in p.blocks if b.gate is not None]
        if p.name in skip or len(blocks) < 2:
            continue
        swapped = []
        for b in blocks:
            if b.ok(run.threshold):
                continue
            for o in blocks:
                if o is not b and o.exercised and close(p.analytic[b.mask], p.numeric[o.mask]):
                    swapped.append((b, o))
                    break
        if swapped:
            pairs = "; ".join(f"the block of gate {b.gate} ({b.where.split()[-1]}) holds gate "
                              f"{o.gate}'s" for b, o in swapped)
            out.append((p.name, pairs))
    merged = {}
    for name, pairs in out:
        merged.setdefault(pairs, []).append(name)
    out = [(name, f"In {and_list(names)}, {pairs}: your backward writes the gates in another "
                  "order than your forward reads them (the slices of the fused axis must be "
                  "the same in both).")
           for pairs, names in merged.items() for name in names[:1]]
    out += [(name, "") for pairs, names in merged.items() for name in names[1:]]
    return out


def _gate_status(first, lengths, thr, skip):
    """{canonical gate: 'right' | 'wrong' | 'untested'}, the letters used, the kind.

    A block passes but is 'untested' when its gradient is zero here, or (at length 2) was
    zero at length 1: then the first step, the one a carry reaches, adds nothing to it
    (it multiplies a zero initial state)."""
    one = next((r for r in lengths if r.length == 1 and r.params), None)
    before = {p.name: p for p in one.params} if one is not None and first.length == 2 else {}
    status, letters, kind = {}, {}, None
    for p in first.params:
        if p.name in skip:
            continue
        for j, b in enumerate(p.blocks):
            if b.canon is None:
                continue
            kind = "lstm" if b.canon in "ifog" else "gru"
            letters[b.canon] = b.gate
            untested = not b.exercised or (p.name in before
                                           and not before[p.name].blocks[j].exercised)
            s = "wrong" if not b.ok(thr) else ("untested" if untested else "right")
            old = status.get(b.canon)
            rank = {"wrong": 2, "right": 1, "untested": 0}
            if old is None or rank[s] > rank[old]:
                status[b.canon] = s
    return status, letters, kind


def gate_findings(first, lengths, thr, skip):
    status, letters, kind = _gate_status(first, lengths, thr, skip)
    wrong = [g for g in status if status[g] == "wrong"]
    right = [g for g in status if status[g] == "right"]
    untested = [g for g in status if status[g] == "untested"]
    if not wrong:
        return []
    show = lambda gs: and_list(letters[g] for g in gs)
    head = f"Gates: {show(wrong)} wrong" + (f", {show(right)} right" if right else "")
    if untested:
        head += (f" ({show(untested)} untested here: {plural(untested, 'its', 'their')} gradient "
                 "is zero at the steps that show the mistake, as when it multiplies a zero "
                 "initial state)")
    W, WU = set(wrong), set(wrong) | set(untested)
    bias_text, bias_gates = _bias_vs_matrix(first, thr, letters, skip)
    if bias_text and bias_gates >= W:           # every wrong gate has a right bias: one finding
        return [head + ". " + bias_text]
    out = []
    if kind == "lstm":
        if W <= {"i", "f", "g"} and WU >= {"i", "f", "g"} and "o" in right:
            out.append(head + ". The o gate is right and the gates that reach the loss through "
                       f"the cell state are wrong: the cell-state gradient they share, {_DC}, is "
                       "wrong. c_t reaches the loss through h_t = o * tanh(c_t) and through "
                       "c_{t+1}; both terms belong in dc, and the derivative of tanh at c is "
                       "1 - tanh(c)**2 (not 1 - c**2, not 1 - h**2).")
        elif WU == {"i", "f", "o", "g"} and "o" in W and len(W) >= 2:
            out.append(head + ". What all the gates share is wrong: dh, the gradient reaching "
                       "h_t (from the output layer at step t plus dh_next from step t+1), or "
                       "the vectors the gate gradients are multiplied by (x_t, h_{t-1}).")
        else:
            eqs = "; ".join(_EQUATION[g] for g in wrong)
            shared = (f"; and {_DC} (shared by i, f, g)" if len(wrong) > 1 and "o" not in wrong
                      else "")
            out.append(head + f". Look at the line{plural(wrong, '', 's')} for "
                       f"{plural(wrong, 'this gate', 'these gates')}: {eqs}{shared}.")
    else:
        out.append(head + ". Look at the lines that compute the wrong gates' gradients, and at "
                   "what only they share.")
    if bias_text:
        out.append(bias_text)
    return out


def _bias_vs_matrix(first, thr, letters, skip):
    """A gate whose bias gradient is right but a matrix gradient wrong: the outer product."""
    biases, mats = {}, {}
    for p in first.params:
        if p.name in skip:
            continue
        is_bias = p.grad_shape is None and (len(p.shape) == 1 or (len(p.shape) == 2 and 1 in p.shape))
        for b in p.blocks:
            if b.canon is not None:
                (biases if is_bias else mats).setdefault(b.canon, []).append((p, b))
    hits = []
    for g, bl in biases.items():
        if all(b.ok(thr) and b.exercised for _, b in bl):
            hits += [(g, p.name) for p, b in mats.get(g, []) if not b.ok(thr)]
    if not hits:
        return "", set()
    gates = sorted({g for g, _ in hits}, key="ifogrzn".index)
    mnames = list(dict.fromkeys(n for _, n in hits))
    return (f"The bias gradient of gate{plural(gates, '', 's')} {and_list(letters[g] for g in gates)} "
            "is right, so the gradient of the gate pre-activation (da) is right there; "
            f"{and_list(mnames)} {plural(mnames, 'is', 'are')} wrong, so look at the outer product "
            "that turns da into the weight gradient: it must use the very vector the forward "
            "multiplied by that matrix (h_{t-1} of the step before, or x_t), summed over the "
            "steps.", set(gates))


def length_finding(run, first, lengths, wrong):
    L = first.length
    if L is None or first.ok:
        return []
    raised = [r for r in lengths if r.error]
    out = []
    if L == 1:
        out.append("Wrong already for a sequence of length 1: the mistake is inside one step "
                   "(that step's own equations), not in what is carried from step to step.")
    else:
        prev = max((r for r in lengths if r.length is not None and r.length < L and not r.error),
                   key=lambda r: r.length, default=None)
        if prev is None:
            out.append(f"Wrong at length {L}; no shorter length could be checked.")
        else:
            before = {p.name: p for p in prev.params}
            def was_tested(p):      # its wrong blocks all had a non-zero gradient at length P
                b0 = before[p.name].blocks
                return all(b0[j].exercised for j, b in enumerate(p.blocks)
                           if not b.ok(run.threshold))
            tested = [p.name for p in wrong if was_tested(p)]
            untested = [p.name for p in wrong if not was_tested(p)]
            P = prev.length
            steps = "one step" if P == 1 else f"up to {P} steps"
            if L == 2:
                if tested:
                    msg = (f"Right for one step, wrong from two steps on: what you carry back "
                           f"from step t+1 to step t is wrong ({and_list(tested)} "
                           f"{'is' if len(tested) == 1 else 'are'} right at length 1 and wrong at "
                           "length 2). Look at what step t+1 hands back: the gradient of the hidden "
                           "state (dh_next, added to the gradient from step t's own output), in "
                           "an LSTM that of the cell state (dc_next, times f), and at the weight "
                           "gradients summed over the steps (+=, not =).")
                else:
                    msg = (f"Wrong from length 2 on. At length 1 the gradient of "
                           f"{and_list(untested)} is zero ({plural(untested, 'it multiplies', 'they multiply')} "
                           "the initial state, which is zero), so length 1 could not test "
                           f"{plural(untested, 'it', 'them')}: the mistake is in "
                           f"{plural(untested, 'its', 'their')} own equation or in what is "
                           "carried from step t+1 to step t.")
                if tested and untested:
                    msg += (f" ({and_list(untested)} could not be tested at length 1: "
                            f"{plural(untested, 'its gradient is', 'their gradients are')} zero there.)")
                out.append(msg)
            else:
                out.append(
                    f"Right for {steps}, wrong from {L} steps on ({and_list(p.name for p in wrong)}): "
                    f"something depends on a step's position. An index off by one (hs[t-1] at "
                    f"t = 0 is the last step in Python), a backward loop that skips steps "
                    f"(range(1, T), or one that stops early), or backpropagation through time "
                    f"truncated after {L - 2} steps back (for the check, set the truncation "
                    "longer than the sequence).")
    if raised:
        out.append("At length " + and_list(str(r.length) for r in raised) + " your code raised: "
                   + raised[0].error.replace("GradientCheckError: ", "")
                   + ". Those lengths were skipped.")
    return out
