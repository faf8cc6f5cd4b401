"""The APIs ``charlstm check`` knows, and the words an API description is written in.

An API module (``cs231n.py``) only describes an assignment, the way its handout does:

- ``FUNCTIONS``: each function a learner writes (``Function``): its signature, what it
  returns, the template's docstring, the catalogue mistakes to look for in it, the hints
  for wrong outputs, and whether the starter file already provides it;
- ``PAIRS``: each forward with its backward (``Pair``) and the ways learners write them
  (``Convention``): which ``families.Family`` computes the math, the order of the arguments,
  what the backward is called with, the arrays' layout (``Layout``), and when a learner's
  signature is that convention;
- ``ALIASES`` (other names for the same functions), ``TEMPLATES`` and ``template(kind)``.

The engine runs any such description against the references and finite differences; a
new API is a new module here and a line in ``APIS``, never a change to the engine.

How a learner's forward is matched to a convention: of the conventions its signature fits
(``Convention.accepts``), the first whose calls return the right number of outputs in the
right shapes; when some of a file's functions only fit another ``Layout`` (time-major,
unbatched), that layout is tried first for the others. A ``Layout`` turns an array in
charlstm's layout into the learner's by its axis names (``families.Family.axes``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..families import Family


# =========================================================================== layouts

@dataclass(frozen=True)
class Layout:
    """How a learner's arrays are laid out, compared with charlstm's (N first, then T).

    time_first: T comes before N wherever both appear (x (T, N, D));
    unbatched: one sequence, no N axis at all (x (T, D)); the cases then have N = 1.
    """
    name: str
    time_first: bool = False
    unbatched: bool = False

    def sizes(self, sizes):
        return (1, *sizes[1:]) if self.unbatched else sizes

    def array(self, a, axes):
        """An array in charlstm's layout (axis names ``axes``) -> in this layout."""
        if not axes or not isinstance(a, np.ndarray) or a.ndim != len(axes):
            return a
        if self.time_first and "N" in axes and "T" in axes:
            a = np.swapaxes(a, axes.index("N"), axes.index("T"))
        if self.unbatched and "N" in axes:
            a = np.take(a, 0, axis=axes.index("N"))
        return np.ascontiguousarray(a)

    def axes(self, axes):
        """Axis names in this layout."""
        axes = list(axes)
        if self.time_first and "N" in axes and "T" in axes:
            i, j = axes.index("N"), axes.index("T")
            axes[i], axes[j] = axes[j], axes[i]
        if self.unbatched and "N" in axes:
            axes.remove("N")
        return tuple(axes)


BATCH_FIRST = Layout("batch-major")
TIME_MAJOR = Layout("time-major", time_first=True)
UNBATCHED = Layout("unbatched", unbatched=True)


# =========================================================================== signatures

@dataclass(frozen=True)
class Params:
    """What a learner's signature says: positional parameters and their defaults."""
    names: tuple                    # positional parameter names, in order
    required: int                   # how many have no default
    star: bool                      # takes *args

    def takes(self, n):
        """True if n positional arguments fit."""
        return self.required <= n and (self.star or n <= len(self.names))

    def has_default(self, name):
        return name in self.names and self.names.index(name) >= self.required


def params(fn):
    """The Params of fn, or None when Python cannot tell (a builtin, a C function)."""
    try:
        ps = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    pos = [p for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(p.default is p.empty for p in pos)
    return Params(tuple(p.name for p in pos), required, any(p.kind == p.VAR_POSITIONAL for p in ps))


def takes(n):
    """A convention's test: the function takes n positional arguments."""
    return lambda p: p.takes(n)


# =========================================================================== the description

@dataclass(frozen=True)
class Hint:
    """Where a pattern of right and wrong outputs points: the hint applies when every
    name in ``wrong`` is wrong, at least one of ``any_wrong`` is, nothing outside ``only``
    is (when given), and every name in ``right`` is right."""
    text: str
    wrong: frozenset = frozenset()
    any_wrong: frozenset = frozenset()
    only: frozenset | None = None
    right: frozenset = frozenset()

    def applies(self, wrong, right):
        return (self.wrong <= wrong and (not self.any_wrong or self.any_wrong & wrong)
                and (self.only is None or wrong <= self.only) and self.right <= right)


def hint(text, wrong=(), any_wrong=(), only=None, right=()):
    return Hint(text, frozenset(wrong), frozenset(any_wrong),
                None if only is None else frozenset(only), frozenset(right))


@dataclass(frozen=True)
class Function:
    """One function a learner writes."""
    name: str
    signature: str          # as the handout writes it, for messages and the template
    outputs: tuple          # names of the returned values, cache excluded
    doc: str                # the template's docstring
    kind: str = "forward"   # forward | backward (a loss is a forward that returns dx too)
    mistakes: tuple = ()    # catalogue ids to look for when it is wrong
    hints: tuple = ()       # Hint rules, first that applies wins
    provided: bool = False  # the starter file ships it written


@dataclass(frozen=True)
class Convention:
    """One way a learner writes a forward/backward pair.

    The forward is called with the family's inputs (in charlstm's order, laid out by
    ``layout``) and returns the family's outputs, then a cache if ``cache``. The backward
    is called with ``backward_args``: upstream gradient names and "cache", in order, of
    which the trailing ``optional`` ones may be left out (the reference then gets zeros
    for them). ``accepts(Params)`` says whether a learner's forward signature fits.
    """
    label: str
    family: Family
    accepts: Callable = None
    cache: bool = True
    backward_args: tuple = ()
    optional: tuple = ()
    layout: Layout = BATCH_FIRST

    def fits(self, p):
        if p is None:                   # Python cannot tell: try it
            return True
        return (self.accepts or takes(len(self.family.inputs)))(p)

    def in_layout(self, layout, label):
        return replace(self, layout=layout, label=label)


@dataclass(frozen=True)
class Pair:
    """A forward, its backward (or None), and the conventions learners write them in,
    tried in order. ``step``: the forward of the step pair a sequence pair calls."""
    forward: Function
    backward: Function | None
    conventions: tuple
    step: str | None = None


# =========================================================================== the registry

from . import cs231n  # noqa: E402  (the modules use the words above)

APIS = {"cs231n": cs231n}


def detect(names):
    """The API whose function names a namespace defines most of (cs231n when none)."""
    def score(api):
        return sum(n in api.FUNCTIONS or n in api.ALIASES for n in names)
    best = max(APIS.values(), key=score)
    return best if score(best) else APIS["cs231n"]
