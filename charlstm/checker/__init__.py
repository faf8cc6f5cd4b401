"""``charlstm check``: find the bug in a learner's own RNN/LSTM layers.

A learner writes the coursework functions (``lstm_step_forward``, ``lstm_backward``, ...).
``check`` calls each one on small float64 cases and compares every output with charlstm's
reference and every gradient also with finite differences of the learner's own forward;
a wrong result is matched against a catalogue of the mistakes learners make, which names
the mistake, the equation it breaks and the fix.

    report = check("my_layers.py")          # or a module, or globals(), or functions
    print(report)                           # the tables and diagnoses
    report.ok, report.to_json()

The parts, in the order a check runs through them (like a compiler's front ends):

    loading.py      a file, a notebook, a module or a namespace -> functions, tolerantly
                    (python2.py: the small rewrite that reads Python 2-era files)
    apis/           one module per coursework API, each only describing it: cs231n.py,
                    dlai.py (deeplearning.ai week 1), minchar.py (min-char-rnn's lossFun);
                    apis/__init__.py holds the words a description is written in
    families.py     each layer's math in charlstm's layout: cases, reference, naive variant
    catalogue.py    the mistakes, each a switch on a naive layer, in words a learner reads
    engine.py       runs a description against the references and finite differences
    report.py       what was found: text, HTML (Jupyter) and JSON (graders)
    adapter.py      for a file of no known API: what it defines, and a check_gradients adapter

A gradient check for code of no known API (``check_gradients``, the generic/ package:
its measure, gates, localisation, diagnosis and report) sits beside engine.py: it needs
no API description.

This runs the learner's code: it is meant for files you wrote or trust.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from types import ModuleType

from ..errors import CharlstmError
from . import adapter, apis, engine, loading
from .apis import cs231n
from .catalogue import CATALOGUE
from .families import CASES, Case
from .generic import GradientCheckError, check_gradients
from .loading import TIMEOUT, ImportFailed, load_file
from .report import FD_RIGHT, RIGHT, Report, Unknown, rel_error

SPECS = cs231n.FUNCTIONS
TEMPLATES = {kind: names for api in apis.APIS.values() for kind, names in api.TEMPLATES.items()}


def template(kind="lstm"):
    """A starting file of the API whose template ``kind`` is (rnn, lstm, all: cs231n; dlai)."""
    for api in apis.APIS.values():
        if kind in api.TEMPLATES:
            return api.template(kind)
    raise CharlstmError(f"unknown template {kind!r}: choose one of {', '.join(TEMPLATES)}")

__all__ = ["check", "check_gradients", "GradientCheckError", "template", "Report", "CATALOGUE", "SPECS", "TEMPLATES", "TIMEOUT", "RIGHT",
           "FD_RIGHT", "CASES", "Case", "ImportFailed", "load_file", "rel_error"]


def check(source=None, *, only=None, timeout=TIMEOUT, seed=0, **functions):
    """Check a learner's coursework functions against charlstm; returns a ``Report``.

    source: the path of a .py file or an .ipynb notebook, a module, or a namespace such
    as ``globals()``; functions: or pass them by name, e.g. ``check(lstm_step_forward=f)``.
    only: a name or list of names to check (with the forward each backward needs).
    timeout: seconds allowed per function, and per top-level statement of a file while
    it loads (Unix main thread only; None for no limit).

    Exit code (``report.exit_code``) 0 means: at least one function the learner writes is
    implemented, and every implemented function passes. This runs the learner's code.
    """
    if source is not None and not isinstance(source, (str, Path, dict, ModuleType)):
        raise CharlstmError("check() takes a file path, a module or a namespace such as "
                            "globals(), or functions by name")
    only = [only] if isinstance(only, str) else list(only or [])
    known = {n: api for api in apis.APIS.values() for n in [*api.FUNCTIONS, *api.ALIASES]}
    unknown = [n for n in only if n not in known]
    if unknown:
        raise CharlstmError(f"unknown function {unknown[0]!r}: --only takes one of "
                            f"{', '.join(n for api in apis.APIS.values() for n in api.FUNCTIONS)}")
    typos = [n for n in functions if n not in known]   # a typo must not pass as "not implemented"
    if typos:
        close = difflib.get_close_matches(typos[0], list(known), n=1)
        raise CharlstmError(f"unknown function {typos[0]}=" + (f" (did you mean {close[0]}?)"
                            if close else "") + "; check() takes "
                            + ", ".join(n for api in apis.APIS.values() for n in api.FUNCTIONS))
    ns, loaded = loading.namespace(source, functions, timeout, apis.shipped())
    label = str(source) if isinstance(source, (str, Path)) else ""
    api = apis.detect({**dict.fromkeys(loaded.broken if loaded else ()), **ns})
    if api is None:                     # none of the APIs it knows: what is there, and an adapter
        found = adapter.defined(ns, loaded)
        titles = [(a.TITLE, list(a.FUNCTIONS)[:3]) for a in apis.APIS.values()]
        return Unknown(label, found, adapter.adapter(found, label), titles, loaded,
                       near=apis.near_misses(ns))
    asked = {api.ALIASES.get(n, n) for n in [*only, *functions]}
    only = {api.ALIASES.get(n, n) for n in only}
    checker = engine.Checker(api, engine.functions(api, ns), timeout=timeout, seed=seed,
                             loaded=loaded)
    reports = engine.run(checker, only)
    printed = checker.printed.getvalue().count("\n")
    return Report(reports, source=label, printed=printed, loaded=loaded, asked=frozenset(asked),
                  api=api.NAME)
