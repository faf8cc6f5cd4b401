"""What ``charlstm check`` found, as text for a terminal, HTML for Jupyter and JSON for a grader.

A ``Report`` holds one ``FunctionReport`` per function looked at; each has a ``Row`` per
output (its shape and relative errors) and ``Finding``s, the diagnoses in words.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RIGHT = 1e-7        # max relative error of a correct float64 implementation vs the reference
FD_RIGHT = 1e-5     # vs finite differences of the learner's own forward (less exact)
ABSENT = "not defined in your file"
_SHOWN = 10         # skipped statements listed in the text report (all in JSON)


def rel_error(a, b):
    """Largest element-wise |a - b| / max(|a| + |b|, 1e-8), as in the coursework."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8), initial=0.0))


@dataclass
class Row:
    """One output of one function: its shape and its max relative errors."""
    name: str
    shape: tuple
    got_shape: tuple | None = None
    err_ref: float | None = None
    err_fd: float | None = None

    @property
    def ok(self):
        return self.err_ref is not None and self.err_ref < RIGHT


@dataclass
class Finding:
    """A diagnosis: which outputs it explains, and the words."""
    id: str | None
    outputs: list
    text: str


@dataclass
class FunctionReport:
    name: str
    status: str = "not implemented"    # pass | fail | not implemented | error | timeout | bad signature
    convention: str = ""
    rows: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    message: str = ""
    kind: str = "forward"
    provided: bool = False             # the starter file ships it written
    lengths: dict | None = None        # a check over sequence prefixes: shortest failing, checked

    @property
    def implemented(self):
        return self.status != "not implemented"

    def to_dict(self):
        return {"function": self.name, "status": self.status, "convention": self.convention,
                "provided_by_starter": self.provided,
                "max_rel_error": {r.name: (None if r.err_ref is None or math.isinf(r.err_ref)
                                           else r.err_ref) for r in self.rows},
                "max_rel_error_vs_finite_diff": {r.name: r.err_fd for r in self.rows
                                                 if r.err_fd is not None},
                "diagnosis": [f.id for f in self.findings if f.id],
                "message": self.message or None,
                **({"sequence_lengths": self.lengths} if self.lengths is not None else {})}

    def text(self):
        if self.status == "not implemented":
            return f"{self.name}: not implemented yet{(' - ' + self.message) if self.message else ''}"
        label = "; ".join(x for x in (self.convention, "provided by the starter file" if self.provided
                                      else "") if x)
        lines = [f"{self.name}  ({label})" if label else self.name]
        if self.rows:
            fd = self.kind == "backward" or any(r.err_fd is not None for r in self.rows)
            w = max([9] + [len(r.name) for r in self.rows])
            lines.append(f"  {'output':<{w}} {'shape':<10} {'vs charlstm':>12}"
                         + (f" {'vs finite diff':>15}" if fd else "") + "  result")
            for r in self.rows:
                shape = "x".join(map(str, r.shape)) or "scalar"
                ref = "-" if r.err_ref is None or math.isinf(r.err_ref) else f"{r.err_ref:.1e}"
                res = "pass" if r.ok else "FAIL"
                if r.got_shape is not None and r.got_shape != r.shape:
                    res = f"FAIL (shape {'x'.join(map(str, r.got_shape)) or 'scalar'})"
                fdc = "" if not fd else f" {'-' if r.err_fd is None else format(r.err_fd, '.1e'):>15}"
                lines.append(f"  {r.name:<{w}} {shape:<10} {ref:>12}{fdc}  {res}")
        if self.message:
            lines.append(f"  {self.message}")
        for f in self.findings:
            if f.text:
                lines.append(_indent(f.text))
        verdict = {"pass": "PASS", "fail": "FAIL"}.get(self.status, self.status.upper())
        lines.append(f"  -> {verdict}")
        return "\n".join(lines)


def _indent(text, pad="  "):
    return "\n".join(pad + ln if ln else ln for ln in text.splitlines())


@dataclass
class Report:
    """What ``check`` found: one FunctionReport per function it looked at, and what loading
    the file had to leave out (``loaded``: a ``loading.Loaded``, or None)."""
    functions: list
    source: str = ""
    printed: int = 0
    loaded: object = None
    asked: frozenset = frozenset()      # names the caller asked for (--only, by keyword)
    api: str = ""                       # the API the functions were checked as (apis.APIS)

    @property
    def checked(self):
        return [f for f in self.functions if f.implemented]

    @property
    def graded(self):
        """The implemented functions the learner wrote: those the starter file provides
        count only when asked for by name."""
        return [f for f in self.checked if not f.provided or f.name in self.asked]

    @property
    def ok(self):
        """True when something the learner writes is implemented and everything implemented
        passes (the starter's own functions alone are no pass)."""
        return bool(self.graded) and all(f.status == "pass" for f in self.checked)

    @property
    def exit_code(self):
        return 0 if self.ok else 1

    def summary(self):
        passed = [f.name for f in self.functions if f.status == "pass"]
        unchecked = [f.name for f in self.functions if f.status == "not checked"]
        failed = [f.name for f in self.checked if f.status not in ("pass", "not checked")]
        todo = [f.name for f in self.functions if not f.implemented]
        parts = [f"{len(passed)} passed", f"{len(failed)} failed"]
        parts += [f"{len(unchecked)} not checked"] if unchecked else []
        line = ", ".join(parts + [f"{len(todo)} not implemented yet"])
        if not self.checked:
            return (f"{line}. Nothing is implemented yet: replace the starter's placeholders "
                    "(`raise NotImplementedError`, `pass`, `= None`) with your code and run the "
                    "check again.")
        if failed:
            return f"{line}. Fix the first failing function first: later ones often call it."
        if unchecked:
            return f"{line}. Fix the function each unchecked one needs first."
        if not self.graded:
            given = ", ".join(f.name for f in self.checked)
            return (f"{line}. Only functions the starter file provides are implemented ({given}): "
                    "they pass, but none of those you write is implemented yet, so this is no pass.")
        return f"{line}. Every implemented function matches the reference."

    def notes(self):
        """What loading the file left out, one line each."""
        if self.loaded is None:
            return []
        out = list(self.loaded.notes())
        skipped = [x for x in self.loaded.skipped if not x.follows]
        after = [x.where for x in self.loaded.skipped if x.follows]
        if skipped:
            out.append("Skipped while loading (the rest of the file was loaded):")
            out += ["  " + x.text() for x in skipped[:_SHOWN]]
            if len(skipped) > _SHOWN:
                out.append(f"  ... and {len(skipped) - _SHOWN} more (--json lists them all)")
        if after:
            out.append(f"  and {len(after)} statement{'s' if len(after) > 1 else ''} that need a name "
                       f"only a skipped one defines (NameError), skipped too: {', '.join(after)}")
        return out

    def text(self):
        out = [f"Checking {self.source}" if self.source else "Checking your functions"]
        out += self.notes()
        out += [f"float64; each output vs charlstm's reference (relative error, pass below {RIGHT:.0e}), "
                "each gradient also vs\nfinite differences of your own forward "
                f"(should be below ~{FD_RIGHT:.0e}).", ""]
        absent = [f.name for f in self.functions if f.message == ABSENT]
        out += [f.text() + "\n" for f in self.functions if f.message != ABSENT]
        if absent:
            out.append(f"Not defined in your file (not implemented yet): {', '.join(absent)}\n")
        if self.printed:
            out.append(f"(your functions printed {self.printed} lines while being checked; not shown)")
        out.append(self.summary())
        return "\n".join(out)

    __str__ = text

    def to_json(self):
        return json.dumps({"source": self.source, "ok": self.ok, "api": self.api or None,
                           "loading": self.loaded.to_dict() if self.loaded is not None else None,
                           "functions": [f.to_dict() for f in self.functions]}, indent=1)

    def _repr_html_(self):
        import html
        rows = []
        for f in self.functions:
            diag = "<br>".join(html.escape(x.text) for x in f.findings) or html.escape(f.message)
            errs = ", ".join(f"{r.name} {r.err_ref:.1e}" for r in f.rows if r.err_ref is not None)
            rows.append(f"<tr><td><code>{f.name}</code></td><td>{html.escape(f.status)}</td>"
                        f"<td>{errs}</td><td style='text-align:left'>{diag}</td></tr>")
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes())
        return (notes + "<table><tr><th>function</th><th>status</th><th>max rel. error vs reference"
                "</th><th>diagnosis</th></tr>" + "".join(rows) + "</table>"
                f"<p>{html.escape(self.summary())}</p>")



@dataclass
class Unknown:
    """A file (or namespace) that defines none of the APIs ``charlstm check`` knows: what
    it defines, and an adapter for ``check_gradients`` built from that. Nothing is checked,
    so it is never a pass: exit status 2, as for a file that cannot be loaded at all."""
    source: str
    found: list                         # adapter.Defined, in the order the file defines them
    adapter: str
    known: list                         # (the API's title, a few of its function names)
    loaded: object = None
    near: list = field(default_factory=list)    # (name, its signature, API title, API signature)
    functions: list = field(default_factory=list)
    ok = False
    exit_code = 2
    checked = graded = ()

    def summary(self):
        return ("Nothing was checked (exit status 2): fill in the adapter and run it, or name "
                "your functions as one of those APIs does.")

    def text(self):
        name = Path(self.source).name if self.source else "your namespace"
        known = "; ".join(f"{t} ({', '.join(n)}, ...)" for t, n in self.known)
        out = [f"Checking {self.source or name}",
               f"{name} defines none of the functions of the APIs charlstm check knows: {known}."]
        out += [f"{have} is not {title}'s {theirs}, so it was not checked as that."
                for _, have, title, theirs in self.near]
        if self.loaded is not None:
            out += Report([], loaded=self.loaded).notes()
        out.append("")
        if self.found:
            out.append("It defines:")
            out += ["  " + d.text() for d in self.found]
        else:
            out.append("It defines no classes or functions.")
        out += ["", "charlstm.check_gradients(params, loss, grads, sequence) checks any hand-written "
                "gradient against finite\ndifferences of your own loss and says which parameter, "
                "gate and step is wrong. An adapter\nbuilt from what your file defines (fill in "
                "each `...`; docs/check-gradients.md has worked ones):", ""]
        out += ["    " + ln for ln in self.adapter.splitlines()]
        out += ["", self.summary()]
        return "\n".join(out)

    __str__ = text

    def to_json(self):
        return json.dumps({"source": self.source, "ok": False, "api": None, "checked": False,
                           "loading": self.loaded.to_dict() if self.loaded is not None else None,
                           "defines": [{"kind": d.kind, "name": d.name, "signature": d.signature,
                                        "methods": [m for m, _ in d.methods]} for d in self.found],
                           "adapter": self.adapter, "functions": []}, indent=1)

    def _repr_html_(self):
        import html
        return f"<pre>{html.escape(self.text())}</pre>"
