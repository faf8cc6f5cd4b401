"""The APIs ``charlstm check`` knows, and the words an API description is written in.

An API module (``cs231n.py``) only describes an assignment, the way its handout does:

- ``FUNCTIONS``: each function a learner writes (``Function``): its signature, what it
  returns, the template's docstring, the catalogue mistakes to look for in it, the hints
  for wrong outputs, and whether the starter file already provides it;
- ``PAIRS``: each forward with its backward (``Pair``) and the ways learners write them
  (``Convention``): which ``families.Family`` computes the math, the order of the arguments,
  what the backward is called with, the arrays' layout (``Layout``), and when a learner's
  signature is that convention;
- ``ALIASES`` (other names for the same functions), ``TEMPLATES`` and ``template(kind)``;
- optionally: ``LOSSES`` (``LossFunction``: a loss over its module's globals, checked
  through check_gradients, as min-char-rnn's lossFun), ``WORDS`` (the catalogue's mistakes
  in the API's own names), ``SHIPPED`` (the helper files the assignment ships, supplied
  when absent), ``STRICT`` (a function of another signature is not this API's).

A Convention says how an API names, passes and lays out its arrays (``names``, ``args``
with a ``Bundle`` for a dict argument, ``returns``, ``grads_as``; ``Layout`` with
``features_first`` and ``GateMatrices``), so the engine needs no word of any API.

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
class GateMatrices:
    """One weight matrix per gate, on the stacked [h; x] (the hidden state first), as
    deeplearning.ai writes an LSTM: gate k's pre-activation is W_k @ [a_prev; xt] + b_k.
    charlstm's fused Wx (D, 4H), Wh (H, 4H), b (4H,) (gates i, f, o, g) become, for each
    gate, W_k (H + D, H) and b_k (H,) in charlstm's orientation (a layout may then turn
    them, e.g. features_first gives W_k (H, H + D) and b_k (H, 1)), named with the API's
    letter for the gate; gradients likewise (dWx, dWh, db -> dW_k, db_k).

    letters: (charlstm gate, the API's letter) pairs, in the order the API lists them.
    """
    letters: tuple = (("f", "f"), ("i", "i"), ("g", "c"), ("o", "o"))
    fused: tuple = ("Wx", "Wh", "b")

    def names(self, name):
        """The names an array becomes: ['Wf', 'Wi', ...] for 'Wx' or 'Wh' (both go into the
        same W_k), ['dbf', ...] for 'db', [name] for the rest."""
        pre = "d" if name.startswith("d") and name[1:] in self.fused else ""
        base = name[len(pre):]
        if base not in self.fused:
            return [name]
        head = "b" if base == self.fused[2] else "W"
        return [f"{pre}{head}{k}" for _, k in self.letters]

    def split(self, arrays):
        """{name: array} in charlstm's layout -> the same with the fused weights split per gate."""
        out = {}
        for name, a in arrays.items():
            pre = "d" if name.startswith("d") and name[1:] in self.fused else ""
            base = name[len(pre):]
            if base not in self.fused:
                out[name] = a
                continue
            if base == self.fused[1]:           # Wh goes into W_k together with Wx
                continue
            H = a.shape[-1] // 4
            for gate, k in self.letters:
                j = "ifog".index(gate)
                blk = slice(j * H, (j + 1) * H)
                if base == self.fused[2]:
                    out[f"{pre}b{k}"] = a[blk]
                else:                            # [Wh; Wx] rows: the hidden state first
                    out[f"{pre}W{k}"] = np.vstack([arrays[pre + self.fused[1]][:, blk], a[:, blk]])
        return out

    def axes(self, name):
        return ("C", "G") if name.lstrip("d").startswith("W") else ("G",)


@dataclass(frozen=True)
class Layout:
    """How a learner's arrays are laid out, compared with charlstm's (N first, then T).

    time_first: T comes before N wherever both appear (x (T, N, D));
    unbatched: one sequence, no N axis at all (x (T, D)); the cases then have N = 1;
    features_first: the feature axis first, then N, then T (x (D, N, T), h (H, N, T)), as
        in deeplearning.ai: a weight multiplies from the left (W @ x), so it is (out, in),
        charlstm's transposed, and a bias is a column (H, 1);
    gates: the fused gate weights split into one matrix per gate (``GateMatrices``).
    """
    name: str
    time_first: bool = False
    unbatched: bool = False
    features_first: bool = False
    gates: GateMatrices | None = None

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
        if self.features_first:
            if "N" in axes or "T" in axes:
                a = a.transpose(_features_first(axes))
            elif a.ndim == 2:
                a = a.T                                 # W @ x: (out, in)
            elif a.ndim == 1:
                a = a[:, None]                          # a column
        return np.ascontiguousarray(a)

    def axes(self, axes):
        """Axis names in this layout."""
        axes = list(axes)
        if self.time_first and "N" in axes and "T" in axes:
            i, j = axes.index("N"), axes.index("T")
            axes[i], axes[j] = axes[j], axes[i]
        if self.unbatched and "N" in axes:
            axes.remove("N")
        if self.features_first:
            if "N" in axes or "T" in axes:
                axes = [axes[i] for i in _features_first(axes)]
            elif len(axes) == 2:
                axes = axes[::-1]
            elif len(axes) == 1:
                axes = [axes[0], "1"]
        return tuple(axes)

    def arrays(self, arrays, axes_of):
        """{name: array} in charlstm's layout -> {name: array} in this one (the fused gate
        weights split and renamed when ``gates``)."""
        if self.gates is not None:
            arrays = self.gates.split(arrays)
            fused = {n for k in self.gates.fused for n in self.gates.names(k)}
            fused |= {"d" + n for n in fused}
            axes = {n: self.gates.axes(n) if n in fused else axes_of(n) for n in arrays}
        else:
            axes = {n: axes_of(n) for n in arrays}
        return {n: self.array(a, axes[n]) for n, a in arrays.items()}

    def names(self, names):
        """The names of ``names`` in this layout (split gate weights, in the API's order)."""
        if self.gates is None:
            return list(names)
        return list(dict.fromkeys(m for n in names for m in self.gates.names(n)))


def _features_first(axes):
    """The permutation that puts the feature axes first, then N, then T."""
    return ([i for i, ax in enumerate(axes) if ax not in ("N", "T")]
            + [axes.index(ax) for ax in ("N", "T") if ax in axes])


BATCH_FIRST = Layout("batch-major")
FEATURES_FIRST = Layout("features-first", features_first=True)
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
    probes: tuple = ()      # more checks of the handout's own: probe(call) -> [report.Finding],
                            # call(name, *args) -> (result, None) or (None, why it failed)


@dataclass(frozen=True)
class Convention:
    """One way a learner writes a forward/backward pair.

    The forward is called with the family's inputs (in charlstm's order, laid out by
    ``layout``) and returns the family's outputs, then a cache if ``cache``. The backward
    is called with ``backward_args``: upstream gradient names and "cache", in order, of
    which the trailing ``optional`` ones may be left out (the reference then gets zeros
    for them). ``accepts(Params)`` says whether a learner's forward signature fits.

    An API that names and passes its arrays its own way says so here, and the engine
    follows: ``names`` ((charlstm name, the API's name) pairs; a gradient is "d" + the
    name, ``dWax`` of ``Wax``), ``args`` (the forward's arguments in order: API names, or a
    ``Bundle`` of them, such as deeplearning.ai's ``parameters`` dict), ``returns`` (the
    family's outputs in the order the forward returns them) and ``grads_as`` ("tuple", or
    "dict": the backward returns {"dx": ..., ...}, read by the API's names).
    """
    label: str
    family: Family
    accepts: Callable = None
    cache: bool = True
    backward_args: tuple = ()
    optional: tuple = ()
    layout: Layout = BATCH_FIRST
    names: tuple = ()
    args: tuple = ()
    returns: tuple = ()
    grads_as: str = "tuple"

    @property
    def arity(self):
        """How many positional arguments the forward takes."""
        return len(self.args) if self.args else len(self.family.inputs)

    def fits(self, p):
        if p is None:                   # Python cannot tell: try it
            return True
        return (self.accepts or takes(self.arity))(p)

    def in_layout(self, layout, label):
        return replace(self, layout=layout, label=label)

    def api(self, name):
        """The API's name for one of the family's arrays (or its gradient)."""
        names = dict(self.names)
        if name in names:
            return names[name]
        if name.startswith("d") and name[1:] in names:
            return "d" + names[name[1:]]
        return name

    def own(self, name):
        """The family's name for one of the API's (the inverse of ``api``)."""
        back = {v: k for k, v in self.names}
        if name in back:
            return back[name]
        if name.startswith("d") and name[1:] in back:
            return "d" + back[name[1:]]
        return name

    def output_names(self):
        """The API's names of what the forward returns, in order (cache excluded)."""
        return [self.api(n) for n in (self.returns or self.family.outputs)]

    def grad_names(self):
        """The API's names of what the backward returns, in order."""
        return [self.api(n) for n in self.layout.names(self.family.grads)]

    def arguments(self, arrays):
        """The forward's positional arguments, from {API name: array in the learner's layout}."""
        if not self.args:
            return [arrays[self.api(n)] for n in self.family.inputs]
        return [a.build(arrays) if isinstance(a, Bundle) else arrays[a] for a in self.args]


@dataclass(frozen=True)
class Bundle:
    """Arrays passed as one dict argument, e.g. deeplearning.ai's ``parameters``: each is
    given as a copy, so a learner's function that changes its dict changes nothing here."""
    name: str
    keys: tuple

    def build(self, arrays):
        return {k: np.array(arrays[k]) for k in self.keys}


@dataclass(frozen=True)
class Pair:
    """A forward, its backward (or None), and the conventions learners write them in,
    tried in order. ``step``: the forward of the step pair a sequence pair calls."""
    forward: Function
    backward: Function | None
    conventions: tuple
    step: str | None = None


@dataclass(frozen=True)
class LossFunction:
    """A function that returns a loss and its gradients over weights it reads from its own
    module (min-char-rnn's lossFun), checked through ``check_gradients``.

    setup(rng) -> (globals, sequence, state): the module-level names the checker puts in
        place (the weights and the sizes), a tuple of equal-length sequences (shortened to
        find where a gradient breaks), and the arguments after them, by name;
    reference(globals, *sequence, **state) -> {output: value} for each returned value;
    gradients: (output, weight) pairs: which returned value is the gradient of which global.
    """
    function: Function
    weights: tuple
    setup: Callable
    reference: Callable
    gradients: tuple


# =========================================================================== the registry

from . import cs231n, dlai, minchar  # noqa: E402  (the modules use the words above)

APIS = {"cs231n": cs231n, "dlai": dlai, "minchar": minchar}


def detect(ns):
    """The API whose functions a namespace ({name: object}) defines most of, counting a
    function whose signature fits fully and one that does not as a quarter (so a file with
    a wrong signature still gets its own API's message), or not at all for an API that is
    ``STRICT`` (another lossFun is another program); None when it defines none."""
    def score(api):
        total = 0.0
        for name, obj in ns.items():
            canon = api.ALIASES.get(name, name)
            if canon not in api.FUNCTIONS:
                continue
            total += 1.0 if _fits(api, canon, obj) else (0 if getattr(api, "STRICT", False) else 0.25)
        return total
    scores = [(score(api), -k, api) for k, api in enumerate(APIS.values())]
    best = max(scores, key=lambda t: t[:2])
    return best[2] if best[0] else None


def _fits(api, name, obj):
    """Whether obj's signature fits what the API calls ``name`` with."""
    if obj is None:                         # defined, but it does not compile
        return True
    p = params(obj) if callable(obj) else None
    if p is None:
        return callable(obj)
    for pair in api.PAIRS:
        if pair.forward.name == name:
            return any(c.fits(p) for c in pair.conventions)
        if pair.backward is not None and pair.backward.name == name:
            return any(p.takes(len(c.backward_args) - len(c.optional)) or p.takes(len(c.backward_args))
                       for c in pair.conventions)
    return p.takes(arity(api.FUNCTIONS[name].signature))


def arity(signature):
    """How many arguments a handout's signature lists: 'f(a, b, c)' -> 3."""
    inside = signature[signature.index("(") + 1:signature.rindex(")")].strip()
    return len(inside.split(",")) if inside else 0


def near_misses(ns):
    """[(name, its signature, the API's title, the API's signature)] for functions named as
    an API's whose signature does not fit it."""
    out = []
    for api in APIS.values():
        for name, obj in ns.items():
            canon = api.ALIASES.get(name, name)
            if canon in api.FUNCTIONS and callable(obj) and not _fits(api, canon, obj):
                try:
                    have = f"{name}{inspect.signature(obj)}"
                except (TypeError, ValueError):
                    have = name
                out.append((name, have, api.TITLE, api.FUNCTIONS[canon].signature))
    return out


def shipped():
    """{module: {name: helper} or None} of every API: the files an assignment ships beside
    the learner's (rnn_utils), supplied when absent; None: its tests, skipped."""
    return {m: v for api in APIS.values() for m, v in getattr(api, "SHIPPED", {}).items()}
