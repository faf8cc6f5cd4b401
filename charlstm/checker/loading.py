"""Turning what a learner gives ``charlstm check`` into functions: a .py file, a notebook,
a module or a namespace.

A file is loaded tolerantly, the way a teaching assistant would read it: its top-level
statements run one by one, in order, each compiled on its own and under the time limit.
One that does not compile, raises or runs too long (a training loop at the top level) is
skipped and named in one line, and the rest of the file still loads, so one stale import
does not hide every function. Python 2-era files are read through ``python2.rewrite``.
A notebook's code cells run the same way, IPython magics and shell lines left out, and
places in it are given as "cell K, line L" (K counts code cells from 1).

Also here: the guards every run of the learner's code goes through (a time limit; where
in the learner's code an error happened) and what a function's source says (whether it is
a starter's untouched stub).

This runs the learner's code: it is meant for files you wrote or trust.
"""

from __future__ import annotations

import __future__
import ast
import contextlib
import inspect
import io
import json
import linecache
import re
import signal
import sys
import textwrap
import threading
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from ..errors import CharlstmError
from . import python2

TIMEOUT = 20.0      # seconds per function and per top-level statement, by default
_HERE = str(Path(__file__).parent)
_SOURCES = {}       # code filename -> (source text, label prefix) of what was loaded
_DEFS = {}          # (code filename, first line) -> ast.FunctionDef, for the stub test


class ImportFailed(CharlstmError):
    """Nothing of the learner's file could be loaded (exit status 2)."""


class Timeout(BaseException):
    """Raised inside the learner's code when its time is up (not an Exception, so their
    own ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def time_limit(seconds):
    """Interrupt the block after ``seconds`` (Unix, main thread; elsewhere no limit)."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise Timeout()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def place(filename, lineno):
    """'line 12', or 'cell 3, line 4' in a notebook."""
    prefix = _SOURCES.get(filename, (None, ""))[1]
    return f"{prefix}line {lineno}"


def learner_frames(exc):
    """The traceback's frames in the learner's code (not in the checker's), innermost last."""
    frames, tb = [], exc.__traceback__
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_HERE):
            frames.append(tb)
        tb = tb.tb_next
    return frames


def where(exc):
    """' (file.py, line 12, in rnn_forward)' for the innermost frame of the learner's code."""
    frames = learner_frames(exc)
    if not frames:
        return ""
    code, line = frames[-1].tb_frame.f_code, frames[-1].tb_lineno
    name = Path(code.co_filename.split("#cell", 1)[0]).name      # a notebook's cells: nb#cellK
    return f" ({name}, {place(code.co_filename, line)}, in {code.co_name})"


# =========================================================================== what was loaded

@dataclass
class Skipped:
    """A top-level statement that was not run, and why (one line)."""
    where: str           # 'line 572' or 'cell 3, line 4'
    statement: str       # its first line, shortened
    reason: str
    at: tuple = ()       # (cell, line) for sorting
    defines: tuple = ()  # the names it would have defined
    follows: bool = False   # a NameError on a name only a skipped statement before it defines

    def text(self):
        return f"{self.where}: {self.statement}: {self.reason}, skipped"


@dataclass
class Loaded:
    """A learner's file, loaded: the module, and what the loading had to leave out."""
    module: ModuleType
    label: str = ""
    notebook: bool = False
    skipped: list = field(default_factory=list)
    broken: dict = field(default_factory=dict)     # def name -> why it does not compile
    python2: python2.Rewritten | None = None
    ran: int = 0                                   # statements that ran
    shipped: dict = field(default_factory=dict)    # module -> {name: helper} or None (see load)
    supplied: list = field(default_factory=list)   # Skipped-like: a shipped module stood in for

    def notes(self):
        """One line each: Python 2, magics left out; the skipped statements follow."""
        out = []
        p2 = self.python2
        if p2 is not None and p2.python2:
            what = [(f"{p2.prints} print statements as print() calls" if p2.prints > 1 else
                     "a print statement as a print() call") if p2.prints else "", "xrange as range" if p2.xrange else "",
                    f"`except E, e` as `except E as e` ({p2.excepts})" if p2.excepts else ""]
            what = [w for w in what if w]
            words = ", ".join(what[:-1]) + " and " + what[-1] if len(what) > 1 else what[0]
            out.append(f"Python 2 code: charlstm check runs Python 3, so it read {words}.")
        out += [f"{s.where}: {s.statement}: {s.reason}." for s in self.supplied]
        return out

    def to_dict(self):
        p2 = self.python2
        return {"notebook": self.notebook,
                "python2": bool(p2 and p2.python2),
                "rewritten": {"print": p2.prints, "except": p2.excepts, "xrange": p2.xrange}
                if p2 and p2.python2 else {},
                "skipped": [{"where": s.where, "statement": s.statement, "reason": s.reason,
                             "after_a_skipped_definition": s.follows}
                            for s in self.skipped],
                "supplied": [{"where": s.where, "statement": s.statement, "reason": s.reason}
                             for s in self.supplied]}


def load(path, timeout=TIMEOUT, shipped=None):
    """Load a learner's .py file or .ipynb notebook; ``ImportFailed`` only if nothing loads.

    shipped: {module: {name: helper}, or None}: the files an assignment ships beside the
    learner's (deeplearning.ai's rnn_utils); when one is imported and is not here, its
    helpers are supplied (a module of None, the assignment's own tests, is skipped)."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file. Give the path of your .py file or notebook "
                           "(or print a starting file with: charlstm check --template lstm)")
    if path.suffix not in (".py", ".ipynb"):
        raise ImportFailed(f"{path} is not a .py file or a notebook (.ipynb): charlstm check "
                           "reads Python source")
    data = path.read_bytes()
    name = f"_charlstm_learner_{abs(hash(str(path.resolve())))}"
    module = ModuleType(name)
    module.__file__ = str(path)
    loaded = Loaded(module, path.name, notebook=path.suffix == ".ipynb", shipped=dict(shipped or {}))
    if loaded.notebook:
        pieces = [(f"{path}#cell{k}", f"cell {k}, ", src, k) for k, src in _cells(path, data, loaded.skipped)]
    else:
        pieces = [(str(path.resolve()), "", _decode(path, data), 0)]
    here = str(path.parent.resolve())
    sys.path.insert(0, here)
    modules = set(sys.modules)
    stdin = sys.stdin
    try:
        sys.stdin = io.StringIO()                   # input() at the top level: EOFError
        with contextlib.redirect_stdout(io.StringIO()):
            flags = 0
            for filename, prefix, src, cell in pieces:
                flags = _run_piece(loaded, filename, prefix, src, timeout, flags, cell)
    finally:
        sys.stdin = stdin
        with contextlib.suppress(ValueError):
            sys.path.remove(here)
        # The learner's own modules beside the file (rnn_utils.py) stay theirs: forgotten by
        # Python, so the next file checked in this process imports its own neighbours.
        for name in set(sys.modules) - modules:
            where = getattr(sys.modules[name], "__file__", None) or ""
            if str(Path(where).resolve()).startswith(here + "/"):
                del sys.modules[name]
    loaded.skipped.sort(key=lambda x: x.at)
    if loaded.ran == 0 and loaded.skipped:
        s = loaded.skipped[0]
        raise ImportFailed(f"cannot load {path.name}: nothing in it runs; the first statement, "
                           f"{s.where} ({s.statement}): {s.reason}")
    return loaded


def load_file(path, timeout=TIMEOUT, shipped=None):
    """The learner's file as a module (see ``load``)."""
    return load(path, timeout, shipped).module


def namespace(source, functions, timeout=TIMEOUT, shipped=None):
    """({name: object}, Loaded or None) from a file path, a module, a namespace and/or
    keyword functions."""
    loaded = None
    if isinstance(source, (str, Path)):
        loaded = load(source, timeout, shipped)
        source = loaded.module
    ns = dict(vars(source)) if isinstance(source, ModuleType) else dict(source or {})
    ns.update(functions)
    return ns, loaded


def _decode(path, data):
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")           # an old file's accented comment


# =========================================================================== running it

def _run_piece(loaded, filename, prefix, src, timeout, flags, cell=0):
    """Run one file's (or one cell's) top-level statements; returns the __future__ flags."""
    rewritten = python2.rewrite(src)
    if rewritten.python2:
        if loaded.python2 is None:
            loaded.python2 = python2.Rewritten("")
        p = loaded.python2
        p.prints, p.excepts = p.prints + rewritten.prints, p.excepts + rewritten.excepts
        p.xrange = p.xrange or rewritten.xrange
        if rewritten.xrange:
            loaded.module.__dict__.setdefault("xrange", range)
    src = rewritten.source
    _SOURCES[filename] = (src, prefix)
    lines = src.splitlines(keepends=True)
    linecache.cache[filename] = (len(src), None, lines, filename)
    try:
        tree = ast.parse(src, filename)
        units = [(s.lineno, ast.Module([s], []), s) for s in tree.body]
    except SyntaxError:
        units = list(_chunks(filename, lines))
    for lineno, unit, node in units:
        first = lines[lineno - 1].strip() if lineno - 1 < len(lines) else ""
        statement = _statement(first)
        try:
            if isinstance(node, SyntaxError):
                raise node
            code = compile(unit, filename, "exec", flags=flags, dont_inherit=True)
        except SyntaxError as e:
            loaded.skipped.append(Skipped(f"{prefix}line {lineno}", statement,
                                          f"does not compile ({_syntax(e, filename)})", (cell, lineno)))
            name = _def_name(first)
            if name:
                loaded.broken[name] = _syntax(e, filename)
            continue
        if _endless(node):
            loaded.skipped.append(Skipped(
                f"{prefix}line {lineno}", statement,
                "a loop that never ends (no break), so it was not run (a training loop at the top "
                "level? put it under `if __name__ == \"__main__\":`)", (cell, lineno)))
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                feature = getattr(__future__, alias.name, None)
                flags |= feature.compiler_flag if feature else 0
        try:
            with time_limit(timeout):
                exec(code, loaded.module.__dict__)
        except Timeout:
            loaded.skipped.append(Skipped(
                f"{prefix}line {lineno}", statement,
                f"still running after {timeout:g} s (a training loop at the top level? put it "
                "under `if __name__ == \"__main__\":`), stopped", (cell, lineno)))
            continue
        except KeyboardInterrupt:
            raise
        except BaseException as e:                  # the learner's own error, SystemExit too
            here = f"{prefix}line {lineno}"
            supplied = _supply(loaded, node, e)
            if supplied:
                (loaded.supplied if supplied[0] else loaded.skipped).append(
                    Skipped(here, statement, supplied[1], (cell, lineno)))
                continue
            msg = str(e).splitlines()[0] if str(e) else ""
            loaded.skipped.append(Skipped(f"{prefix}line {lineno}", statement,
                                          f"{type(e).__name__}{': ' + msg if msg else ''}", (cell, lineno),
                                          defines=_targets(node), follows=_follows(loaded, e)))
            continue
        loaded.ran += 1
        for d in ast.walk(node):
            if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first_line = min([d.lineno] + [x.lineno for x in d.decorator_list])
                _DEFS[(filename, first_line)] = d
    return flags


def _targets(node):
    """The names a top-level statement defines (assigned, imported, def, class)."""
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.append(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append(n.name)
        elif isinstance(n, ast.alias):
            out.append((n.asname or n.name).split(".")[0])
    return tuple(out)


def _follows(loaded, e):
    """A NameError on a name that only a statement skipped before this one would define."""
    name = getattr(e, "name", None)
    return (type(e) is NameError and name is not None and name not in loaded.module.__dict__
            and any(name in s.defines for s in loaded.skipped))


def _endless(node):
    """A top-level ``while True:`` (or ``while 1:``) with no break of its own: it can only
    stop by an exception, so running it would only wait for the time limit (min-char-rnn
    trains forever at the bottom of its file)."""
    if not (isinstance(node, ast.While) and isinstance(node.test, ast.Constant) and node.test.value):
        return False
    todo = list(node.body)
    while todo:
        n = todo.pop()
        if isinstance(n, ast.Break):
            return False
        if not isinstance(n, (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef,
                              ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo += list(ast.iter_child_nodes(n))
        elif isinstance(n, (ast.For, ast.AsyncFor, ast.While)):
            todo += n.orelse                # a break in an inner loop's else ends this one
    return True


def _supply(loaded, node, e):
    """(True, why) when a shipped module that is not here was imported and its helpers
    were put in the learner's namespace; (False, why) for a shipped test module, skipped;
    None for any other error."""
    name = getattr(e, "name", None)
    if not isinstance(e, ModuleNotFoundError) or name not in loaded.shipped or \
            not isinstance(node, (ast.Import, ast.ImportFrom)):
        return None
    helpers = loaded.shipped[name]
    if helpers is None:
        return False, f"{name}.py, the assignment's own tests, is not here"
    ns = loaded.module.__dict__
    for alias in node.names:
        if isinstance(node, ast.ImportFrom) and alias.name == "*":
            ns.update(helpers)
        elif isinstance(node, ast.ImportFrom) and alias.name in helpers:
            ns[alias.asname or alias.name] = helpers[alias.name]
        elif isinstance(node, ast.Import) and alias.name == name:
            mod = ModuleType(name)
            mod.__dict__.update(helpers)
            ns[alias.asname or name] = mod
    names = list(helpers)
    listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    return True, f"{name}.py is not here, so charlstm supplied the assignment's {listed}"


def _syntax(e, filename):
    where = place(filename, e.lineno) if e.lineno else ""
    text = f": {e.text.strip()}" if e.text and e.text.strip() else ""
    return f"{e.msg}, {where}{text}" if where else e.msg


_CONTINUATIONS = ("else", "elif", "except", "finally")
_OPENERS = ("def ", "class ", "@", "import ", "from ", "async def ")


def _chunks(filename, lines):
    """(first line, Module, node) for each top-level statement of a file Python cannot
    parse as a whole, split where a new statement starts at column 0; (first line, None,
    SyntaxError) for a part that does not parse."""
    src = "".join(lines)
    starts, decorated = [], False
    try:
        at_start = True
        for t in tokenize.generate_tokens(io.StringIO(src).readline):
            if t.type == tokenize.NEWLINE:
                at_start = True
                continue
            if t.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
                          tokenize.ENDMARKER):
                continue
            if at_start and t.start[1] == 0 and t.string not in _CONTINUATIONS:
                if not decorated:
                    starts.append(t.start[0])
                decorated = t.string == "@"
            at_start = False
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # An unclosed bracket or string swallows the rest: past the last start found, a
        # line that opens a definition or an import at column 0 starts a statement.
        after = starts[-1] if starts else 0
        starts += [j + 1 for j in range(after, len(lines)) if lines[j].startswith(_OPENERS)]
    if not starts:
        starts = [1]
    bounds = starts + [len(lines) + 1]
    for a, b in zip(bounds, bounds[1:]):
        text = "\n" * (a - 1) + "".join(lines[a - 1:b - 1])
        try:
            tree = ast.parse(text, filename)
        except SyntaxError as e:
            yield a, None, e                        # skipped, with its error
            continue
        for s in tree.body:
            yield s.lineno, ast.Module([s], []), s


def _statement(first):
    """A statement, named in a few words: 'def rnn_backward', 'import foo'."""
    name = _def_name(first)
    if name:
        return f"{first.split()[0]} {name}"
    first = first.rstrip(":")
    return first if len(first) <= 60 else first[:57] + "..."


def _def_name(line):
    parts = line.replace("(", " ").split()
    if len(parts) >= 2 and parts[0] in ("def", "class"):
        return parts[1].rstrip(":")
    if len(parts) >= 3 and parts[0] == "async" and parts[1] == "def":
        return parts[2]
    return None


# =========================================================================== notebooks

_CELL_MAGICS_PYTHON = ("%%time", "%%timeit", "%%capture", "%%prun")


def _cells(path, data, skipped):
    """(K, source) for each code cell (K from 1), magics and shell lines blanked out; the
    cells left out whole go to ``skipped``."""
    try:
        nb = json.loads(data.decode("utf-8"))
        cells = nb["cells"] if "cells" in nb else [
            c for ws in nb.get("worksheets", []) for c in ws.get("cells", [])]   # nbformat 3
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        raise ImportFailed(f"{path.name} is not a readable notebook (not nbformat JSON): "
                           "open it in Jupyter and save it again, or export it as a .py file") from None
    out, k = [], 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        k += 1
        src = cell.get("source", cell.get("input", ""))
        src = "".join(src) if isinstance(src, list) else str(src)
        lines = src.splitlines()
        if lines and lines[0].lstrip().startswith("%%"):
            if not lines[0].lstrip().startswith(_CELL_MAGICS_PYTHON):   # %%bash, %%writefile
                skipped.append(Skipped(f"cell {k}", lines[0].strip(), "a cell magic, not Python", (k, 0)))
                continue
            lines[0] = ""
        kept = []
        for ln in lines:
            s = ln.lstrip()
            if s.startswith(("%", "!")) or (s.endswith("?") and not s.startswith("#")):
                ln = ln[:len(ln) - len(s)] + ("pass" if ln != s else "")   # keep line numbers
            kept.append(ln)
        out.append((k, "\n".join(kept) + "\n"))
    return out


# =========================================================================== what a function's source says

def definition(fn):
    """The ast.FunctionDef of a learner's function (or code object), or None (a lambda,
    a builtin, no source)."""
    code = getattr(fn, "__code__", fn)
    if not hasattr(code, "co_filename"):
        return None
    node = _DEFS.get((code.co_filename, code.co_firstlineno))
    if node is not None:
        return node
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(code)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return ast.increment_lineno(node, code.co_firstlineno - first)      # the file's line numbers



def stub(fn):
    """Why fn is a starter's untouched stub ("not implemented yet"), or None if it is not.

    A stub's body has only a docstring, ``pass``, ``raise NotImplementedError``,
    placeholders (``dx, dh = None, None``) and a return of names or None. The older
    cs231n starter returns names its body never assigns (``return dx, dprev_h, ...``
    after ``dx, dh, ... = None, ...``): calling it raises NameError, yet it is a stub too.
    """
    node = definition(fn)
    if node is None:
        return None
    if _placeholders_only(fn, node):
        return "the starter's None placeholders between START CODE HERE and END CODE HERE"
    assigned, returned = set(), []
    for s in node.body:
        if isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)):
            continue
        if isinstance(s, ast.Raise) and s.exc is not None and \
                _name(s.exc.func if isinstance(s.exc, ast.Call) else s.exc) == "NotImplementedError":
            return "raises NotImplementedError"
        if isinstance(s, ast.Assign) and _all_none(s.value):
            for t in s.targets:
                assigned |= _names(t) or {None}
            if None in assigned:
                return None
            continue
        if isinstance(s, ast.Return):
            if s.value is None or _all_none(s.value):
                continue
            names = _names(s.value)
            if names is None:
                return None
            returned = [n.id for n in ast.walk(s.value) if isinstance(n, ast.Name)]
            continue
        return None
    never = [n for n in returned if n not in assigned]
    if never:
        return (f"the starter's placeholder body, which returns {', '.join(never)} without "
                f"assigning {'it' if len(never) == 1 else 'them'} (a NameError when called)")
    return "the starter's placeholder body (it returns None)"


def source(filename):
    """The text of a loaded file (or cell), as it was run."""
    src = _SOURCES.get(filename, (None, ""))[0]
    return src if src is not None else "".join(linecache.getlines(filename))


def call_sites(fn, callee):
    """'cell 16, line 31: gradients = lstm_cell_backward(da[:, :, t], ...)' for each line of a
    learner's function that calls ``callee``."""
    node, code = definition(fn), getattr(fn, "__code__", None)
    if node is None or code is None:
        return []
    src = _SOURCES.get(code.co_filename, (None, ""))[0]
    lines = src.splitlines() if src else linecache.getlines(code.co_filename)
    found = sorted({n.lineno for n in ast.walk(node)
                    if isinstance(n, ast.Call) and _name(n.func) == callee})
    return [f"{place(code.co_filename, k)}: {lines[k - 1].strip()}" for k in found if k <= len(lines)]


_CODE_HERE = re.compile(r"#+\s*START CODE HERE[^\n]*\n(.*?)#+\s*END CODE HERE", re.S)


def _placeholders_only(fn, node):
    """True when the function has START CODE HERE / END CODE HERE blocks (deeplearning.ai's
    starters) and every line of code in them still holds a None placeholder
    (``a_next = None``, ``for t in range(None):``)."""
    code = getattr(fn, "__code__", None)
    if code is None or getattr(node, "end_lineno", None) is None:
        return False
    src = _SOURCES.get(code.co_filename, (None, ""))[0]
    lines = src.splitlines() if src else linecache.getlines(code.co_filename)
    blocks = _CODE_HERE.findall("\n".join(lines[node.lineno - 1:node.end_lineno]) + "\n")
    code_lines = [ln.strip() for b in blocks for ln in b.splitlines()
                  if ln.strip() and not ln.strip().startswith("#")]
    return bool(blocks) and all(re.search(r"\bNone\b", ln) for ln in code_lines)


def _name(node):
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)


def _all_none(v):
    if isinstance(v, ast.Constant):
        return v.value is None
    return isinstance(v, (ast.Tuple, ast.List)) and all(_all_none(e) for e in v.elts)


def _names(node):
    """The set of names in a name or tuple of names, else None."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.Tuple, ast.List)):
        out = set()
        for e in node.elts:
            n = _names(e)
            if n is None:
                return None
            out |= n
        return out
    return None


def divisions(code, integers_only=False):
    """'line 74: H = H4 / 4' for each ``/`` in a learner's function (its code object),
    those between integer-looking operands (names, int constants, shapes) first, or only."""
    node = definition(code) if code is not None else None
    if node is None:
        return []
    src = _SOURCES.get(code.co_filename, (None, ""))[0]
    lines = src.splitlines() if src else linecache.getlines(code.co_filename)
    hits = []
    for n in ast.walk(node):
        if isinstance(n, (ast.BinOp, ast.AugAssign)) and isinstance(n.op, ast.Div):
            pair = (n.left, n.right) if isinstance(n, ast.BinOp) else (n.target, n.value)
            ints = all(_integer_looking(x) for x in pair)
            if integers_only and not ints:
                continue
            line = lines[n.lineno - 1].strip() if n.lineno - 1 < len(lines) else ""
            hits.append((not ints, n.lineno, f"{place(code.co_filename, n.lineno)}: {line}"))
    return [h[2] for h in sorted(set(hits))]


def _integer_looking(x):
    if isinstance(x, ast.Constant):
        return isinstance(x.value, int)
    if isinstance(x, ast.Name):
        return True
    if isinstance(x, ast.Subscript):                # W.shape[1]
        return isinstance(x.value, ast.Attribute) and x.value.attr == "shape"
    if isinstance(x, ast.Call):                     # len(x)
        return _name(x.func) == "len"
    return False
