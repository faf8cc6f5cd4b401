"""For a file of no API ``charlstm check`` knows: what it defines, and an adapter for
``check_gradients`` built from that, ready to fill in.

The adapter follows docs/check-gradients.md: ``params`` are the learner's own arrays,
``loss`` the scalar their backward differentiates, ``grads`` the gradients by the same
names, ``sequence`` what both take. What it cannot know (sizes, which value a method
returns) is left as ``...`` with a comment, so the adapter runs only once filled in.
"""

from __future__ import annotations

import ast
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import loading

_GRADS = ("backward", "bptt", "backprop", "grad", "lossfun")     # what computes gradients
_LOSSES = ("total_loss", "loss", "cost")


@dataclass
class Defined:
    """A class or function a learner's file defines."""
    kind: str                       # "class" | "def"
    name: str
    signature: str                  # "(self, x, y)" for a def, that of __init__ for a class
    methods: list = field(default_factory=list)     # [(name, signature)] of a class
    arrays: list = field(default_factory=list)      # self.X = np.... in __init__, in order
    reads: list = field(default_factory=list)       # module-level arrays a def reads

    def text(self):
        if self.kind == "def":
            reads = f"  (reads {', '.join(self.reads)})" if self.reads else ""
            return f"def {self.name}{self.signature}{reads}"
        methods = ", ".join(f"{n}{s}" for n, s in self.methods) or "no methods"
        arrays = f"\n      arrays set in __init__: {', '.join(self.arrays)}" if self.arrays else ""
        return f"class {self.name}: {methods}{arrays}"


def defined(ns, loaded=None):
    """[Defined] for the classes and functions a learner's file (or namespace) defines itself."""
    module = loaded.module if loaded is not None else None
    own = module.__name__ if module is not None else None
    out = []
    for name, obj in ns.items():
        if name.startswith("__") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        mod = getattr(obj, "__module__", None)
        if own is not None and mod != own:
            continue                                    # imported (np, typer, ...)
        if own is None and mod != "__main__" and mod in sys.modules:
            continue                                    # a notebook's imports: a library's
        if inspect.isfunction(obj):
            out.append(Defined("def", name, _signature(obj), reads=_reads(obj, ns)))
            continue
        methods = [(n, _signature(f)) for n, f in vars(obj).items()
                   if inspect.isfunction(f) and not (n.startswith("__") and n != "__init__")]
        out.append(Defined("class", name, _signature(getattr(obj, "__init__", None)),
                           methods=[m for m in methods if m[0] != "__init__"],
                           arrays=_init_arrays(obj)))
    return out


def _signature(fn):
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"


def _reads(fn, ns):
    """Module-level NumPy arrays a function reads (min-char-rnn's Wxh, ...): arrays in the
    namespace, or names the file assigns from np.something(...) at its top level (which may
    not have run: min-char-rnn's need input.txt)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    assigned = set()
    try:
        tree = ast.parse(loading.source(code.co_filename))
    except SyntaxError:
        tree = None
    for s in tree.body if tree else ():
        if isinstance(s, ast.Assign) and _numpy_call(s.value):
            assigned |= {t.id for t in s.targets if isinstance(t, ast.Name)}
    return [n for n in code.co_names if isinstance(ns.get(n), np.ndarray) or n in assigned]


def _init_arrays(cls):
    """self.X = <a NumPy expression> in __init__, in order (the candidate parameters)."""
    node = loading.definition(vars(cls).get("__init__"))
    if node is None:
        return []
    out = []
    for s in ast.walk(node):
        if isinstance(s, ast.Assign) and (_numpy_call(s.value) or _is_list_of_names(s.value)):
            for t in s.targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                    out.append(t.attr)
    return list(dict.fromkeys(out))


def _numpy_call(v):
    """An expression that calls np.<...>(...) somewhere (np.random.randn(...) * 0.01)."""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and _root(n.func) in ("np", "numpy") for n in ast.walk(v))


def _is_list_of_names(v):
    return isinstance(v, ast.List) and v.elts and all(isinstance(e, ast.Name) for e in v.elts)


def _root(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _pick(names, words, avoid=("check",)):
    for w in words:
        for n in names:
            if w in n.lower() and not any(a in n.lower() for a in avoid):
                return n
    return None


def _args(signature):
    """The argument names of '(self, x, y=None)' without self: ['x', 'y']."""
    inside = signature.strip()[1:-1]
    out = []
    for a in inside.split(","):
        a = a.strip().split("=")[0].split(":")[0].strip()
        if a and a != "self" and not a.startswith("*"):
            out.append(a)
    return out


def _lines(pairs, most=50):
    """(code, comment) pairs -> lines, the comments lined up (above a line too long for one)."""
    width = max([len(c) for c, m in pairs if m and len(c) <= most] or [0])
    out = []
    for c, m in pairs:
        if m and len(c) > most:
            out += [" " * (len(c) - len(c.lstrip())) + f"# {m}", c]
        else:
            out.append(f"{c:<{width}}  # {m}" if m else c)
    return out


def _tuple(names):
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def adapter(found, source):
    """The text of an adapter for check_gradients, from what the file defines."""
    stem = Path(source).stem if source else ""
    head = [("import numpy as np", ""), ("import charlstm", "")]
    head += [(f"from {stem} import *", "your file")] if source else []   # a notebook: already there
    classes = [d for d in found if d.kind == "class"]
    layer = next((c for c in classes if "params" in c.arrays and "grads" in c.arrays), None)
    model = next((c for c in classes if _pick([m for m, _ in c.methods], _GRADS)), None)
    fn = next((d for d in found if d.kind == "def" and _pick([d.name], _GRADS)), None)
    if layer is not None:                                 # Deep Learning from Scratch 2's shape
        body = _layer(layer)
    elif model is not None:
        body = _model(model)
    elif fn is not None:
        body = _function(fn)
    else:
        body = [("params = {...}", "{name: your array}: the very arrays your code reads"),
                ("def loss(*seq): ...", "the scalar loss at their current values"),
                ("def grads(*seq): ...", "{name: gradient}, by the names of params"),
                ("report = charlstm.check_gradients(params, loss, grads, sequence=...)",
                 "e.g. (inputs, targets), or leave it out"),
                ("print(report)", "")]
    return "\n".join(_lines(head + body))


def _model(cls):
    methods = dict(cls.methods)
    g = _pick(list(methods), _GRADS)
    loss = _pick(list(methods), _LOSSES)
    seq = _args(methods[g]) or ["x", "y"]
    args = _args(cls.signature)
    ctor = ", ".join(f"{a}=..." for a in args if "truncat" not in a) or "..."
    names = cls.arrays or ["..."]
    out = [(f"model = {cls.name}({ctor})", "... small sizes, float64 arrays")]
    out += [(f"model.{a} = 1000", "backpropagate through every step while checking")
            for a in args if "truncat" in a]
    out += [(f"names = {names!r}", f"... the arrays {g} returns gradients of, in its order"),
            ("params = {n: getattr(model, n) for n in names}", ""),
            (f"{', '.join(seq)} = ...", "... one short sequence (e.g. lists of ids)"),
            (f"def loss({', '.join(seq)}):", f"... the scalar loss {g} differentiates (summed, or averaged, as it is)"),
            (f"    return model.{loss}({', '.join(seq)})" if loss else "    return ...", ""),
            (f"def grads({', '.join(seq)}):", ""),
            (f"    return dict(zip(names, model.{g}({', '.join(seq)})))", "... if it returns a list in that order"),
            (f"report = charlstm.check_gradients(params, loss, grads, sequence={_tuple(seq)})", ""),
            ("print(report)", "")]
    return out


def _layer(cls):
    methods = dict(cls.methods)
    fwd = _pick(list(methods), ("forward",)) or "forward"
    bwd = _pick(list(methods), ("backward",)) or "backward"
    ins = _args(methods.get(fwd, "()")) or ["x"]
    ups = _args(methods.get(bwd, "()")) or ["dout"]
    return [(f"layer = {cls.name}(...)", "... its weights"),
            ("layer.params = [p.astype(np.float64) for p in layer.params]", "a sharp check needs float64"),
            ("layer.grads = [np.zeros_like(p) for p in layer.params]", ""),
            ("names = [...]", "... a name for each of layer.params, in order"),
            (f"{', '.join(ins)} = ...", f"... small float64 inputs of {fwd}"),
            (f"{', '.join(ups)} = ...", "... random upstream gradients, one per output"),
            ("def loss():", "any scalar of the outputs will do"),
            (f"    outs = layer.{fwd}({', '.join(ins)})", ""),
            (f"    return sum(np.sum(o * d) for o, d in zip(outs, {_tuple(ups)}))", ""),
            ("def grads():", ""),
            (f"    loss(); layer.{bwd}({', '.join(ups)})", ""),
            ("    return dict(zip(names, layer.grads))", ""),
            ("report = charlstm.check_gradients(dict(zip(names, layer.params)), loss, grads)", ""),
            ("print(report)", "")]


def _function(fn):
    args = _args(fn.signature)
    seq = [a for a in args if a in ("inputs", "targets", "x", "y", "xs", "ys")] or args[:2]
    state = [a for a in args if a not in seq]
    names = fn.reads or ["..."]
    call = f"{fn.name}({', '.join(args)})"
    out = [(f"names = {names!r}", f"... the module-level arrays {fn.name} returns gradients of, in its order"),
           ("params = {n: globals()[n] for n in names}", "run this where those arrays live")]
    out += [(f"{a} = ...", f"... the {a} {fn.name} takes") for a in state]
    out += [(f"{', '.join(seq)} = ...", "... one short sequence (e.g. lists of ids)"),
            (f"loss = lambda {', '.join(seq)}: {call}[0]", "... if the loss comes first"),
            (f"grads = lambda {', '.join(seq)}: dict(zip(names, {call}[1:1 + len(names)]))",
             "... and then the gradients"),
            (f"report = charlstm.check_gradients(params, loss, grads, sequence={_tuple(seq)})", ""),
            ("print(report)", "")]
    return out
