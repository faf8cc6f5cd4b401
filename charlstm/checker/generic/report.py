"""What check_gradients found: per length, per parameter, per gate block; the text, HTML
and JSON of a ``GradientReport``. The words every part of the report uses (``and_list``,
``plural``) are here too."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

import numpy as np


def and_list(items):
    items = list(items)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def plural(names, one, many):
    return one if len(names) == 1 else many


# =========================================================================== the report

@dataclass
class Block:
    """The part of a parameter that belongs to one gate (the whole parameter when it has no gates)."""
    gate: str | None        # the letter the learner uses: i f o g c r z n (None: no gates)
    canon: str | None       # c -> g for an LSTM, h/c/g -> n for a GRU
    where: str              # "" or "columns 0:5"
    mask: np.ndarray        # which of the parameter's sampled elements lie in this block
    max_rel_error: float = 0.0
    exercised: bool = True

    def ok(self, threshold):
        return bool(self.max_rel_error < threshold)


@dataclass
class ParamResult:
    """One parameter at one sequence length."""
    name: str
    shape: tuple
    dtype: str
    checked: int                    # how many elements were compared
    max_rel_error: float | None     # None when the gradient's shape is the transpose
    ok: bool
    blocks: list = field(default_factory=list)
    exercised: bool = True          # the loss depends on it (numeric gradient above noise)
    unchanged: bool = False         # no perturbation changed the loss at all
    grad_shape: tuple | None = None
    analytic: np.ndarray = None     # at the sampled elements, float64
    numeric: np.ndarray = None
    rel: np.ndarray = None          # the error of every sampled element
    full: np.ndarray = None         # the whole analytic gradient, float64

    def to_dict(self, threshold):
        d = {"name": self.name, "ok": self.ok, "max_rel_error": self.max_rel_error,
             "shape": list(self.shape), "checked": self.checked}
        gates = {b.gate: b.ok(threshold) for b in self.blocks if b.gate is not None}
        if gates:
            d["gates"] = gates
        if self.grad_shape is not None:
            d["gradient_shape"] = list(self.grad_shape)
        return d


@dataclass
class LengthResult:
    length: int | None              # None without a sequence
    params: list = None             # ParamResult per parameter (None if the code raised)
    error: str = ""                 # the learner's code raised at this length
    loss: float = 0.0

    @property
    def ok(self):
        return not self.error and all(p.ok for p in self.params)

    def failing(self):
        return [p.name for p in self.params or [] if not p.ok]


@dataclass
class GradientReport:
    """What ``check_gradients`` found. ``str(report)`` is the text, ``report.ok`` a bool."""
    ok: bool
    shortest_failing_length: int | None
    length: int | None              # the length the table describes
    parameters: list                # ParamResult at that length
    lengths: list                   # LengthResult of every length checked, ascending
    findings: list                  # paragraphs: what is wrong, where, why, what to look at
    notes: list                     # how the check ran (precision, sampling, gates read)
    threshold: float
    step: float
    samples: int | None
    seed: int
    evaluations: int = 0

    def to_dict(self):
        return {"ok": self.ok, "shortest_failing_length": self.shortest_failing_length,
                "parameters": [p.to_dict(self.threshold) for p in self.parameters],
                "length": self.length, "threshold": self.threshold,
                "lengths_checked": [{"length": r.length, "ok": r.ok} for r in self.lengths],
                "findings": list(self.findings)}

    def to_json(self):
        """The report as a JSON string: ok, shortest_failing_length, parameters, and more."""
        return json.dumps(self.to_dict(), indent=1)

    def _result(self, p):
        """'pass', 'FAIL (shape 4x5)', 'FAIL  gates wrong: g i; right: f o', ..."""
        res = "pass" if p.ok else "FAIL"
        if p.ok and not p.exercised:
            res += " (its gradient is 0 here: untested)"
        if p.grad_shape is not None:
            res += f" (shape {'x'.join(map(str, p.grad_shape))})"
        gated = [b for b in p.blocks if b.gate is not None]
        wrong = [b.gate for b in gated if not b.ok(self.threshold)]
        right = [b.gate for b in gated if b.ok(self.threshold)]
        if len(gated) > 1 and wrong:
            res += f"  gates wrong: {' '.join(wrong)}" + (f"; right: {' '.join(right)}"
                                                          if right else "")
        return res

    def _table(self):
        rows = [f"  {'parameter':<12} {'shape':<10} {'checked':>7} {'max rel error':>14}  result"]
        for p in self.parameters:
            shape = "x".join(map(str, p.shape)) or "scalar"
            err = "-" if p.max_rel_error is None else f"{p.max_rel_error:.1e}"
            rows.append(f"  {p.name:<12} {shape:<10} {p.checked:>7} {err:>14}  {self._result(p)}")
        return rows

    def text(self):
        lines = [f"check_gradients: {len(self.parameters)} parameters, "
                 + (f"up to {self.samples} sampled elements each (seed {self.seed})"
                    if self.samples else "every element") + f", {self.evaluations} loss evaluations",
                 f"centred differences in float64, step {self.step:g}; max relative error "
                 f"per parameter, pass below {self.threshold:.0e}", ""]
        if len(self.lengths) > 1 or self.length is not None:
            lines.append("  length  result")
            for r in self.lengths:
                res = "pass" if r.ok else (
                    "your code raised" if r.error else "FAIL: " + ", ".join(r.failing()))
                mark = ("   <- shortest failing length" if r.length == self.shortest_failing_length
                        and not r.error else "")
                lines.append(f"  {r.length:<7} {res}{mark}")
            lines.append("")
            lines.append(f"At length {self.length}:" if self.length is not None else "")
        lines += self._table()
        lines.append("")
        for f in self.findings:
            lines += [f, ""]
        for n in self.notes:
            lines += [f"note: {n}"]
        if self.notes:
            lines.append("")
        if self.ok:
            lines.append("-> PASS: every gradient matches finite differences of your loss.")
        else:
            at = (f" (wrong from length {self.shortest_failing_length} on)"
                  if self.shortest_failing_length is not None else "")
            lines.append(f"-> FAIL{at}")
        return "\n".join(ln for ln in lines if ln is not None).replace("\n\n\n", "\n\n")

    __str__ = text

    def __repr__(self):
        wrong = [p.name for p in self.parameters if not p.ok]
        return (f"<GradientReport ok={self.ok} shortest_failing_length="
                f"{self.shortest_failing_length} wrong={wrong}>")

    def _repr_html_(self):
        esc = html.escape
        head = ("<tr><th>parameter</th><th>shape</th><th>checked</th>"
                "<th>max rel. error</th><th>result</th></tr>")
        rows = []
        for p in self.parameters:
            err = "-" if p.max_rel_error is None else f"{p.max_rel_error:.1e}"
            status = self._result(p)
            color = "green" if p.ok else "crimson"
            rows.append(f"<tr><td><code>{esc(p.name)}</code></td>"
                        f"<td>{'x'.join(map(str, p.shape)) or 'scalar'}</td><td>{p.checked}</td>"
                        f"<td>{err}</td><td style='color:{color}'>{esc(status)}</td></tr>")
        lengths = ""
        if self.length is not None:
            lengths = "<p>lengths checked: " + ", ".join(
                f"{r.length} {'pass' if r.ok else 'FAIL'}" for r in self.lengths) + "</p>"
        verdict = ("PASS" if self.ok else "FAIL" + (
            f" (wrong from length {self.shortest_failing_length} on)"
            if self.shortest_failing_length is not None else ""))
        return (f"<p><b>check_gradients</b>: pass below {self.threshold:.0e}"
                + (f", at length {self.length}" if self.length is not None else "") + "</p>"
                + lengths + "<table>" + head + "".join(rows) + "</table>"
                + "".join(f"<p>{esc(f)}</p>" for f in self.findings)
                + "".join(f"<p><i>note: {esc(n)}</i></p>" for n in self.notes)
                + f"<p><b>{verdict}</b></p>")
