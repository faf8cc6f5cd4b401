"""Turning what a learner gives ``charlstm check`` into functions: a file, a module, a namespace.

Also the guards every run of the learner's code goes through: a time limit, and where
in the learner's code an error happened.

This runs the learner's code: it is meant for files you wrote or trust.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import signal
import sys
import threading
import traceback
from pathlib import Path
from types import ModuleType

from ..errors import CharlstmError

TIMEOUT = 20.0      # seconds per function, by default
_HERE = str(Path(__file__).parent)


class ImportFailed(CharlstmError):
    """The learner's file could not be imported (exit status 2)."""


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


def where(exc):
    """' (file.py, line 12, in rnn_forward)' for the innermost frame of the learner's code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_HERE)]
    if not frames:
        return ""
    f = frames[-1]
    return f" ({Path(f.filename).name}, line {f.lineno}, in {f.name})"


def load_file(path, timeout=TIMEOUT):
    """Import a learner's .py file as a fresh module; ImportFailed in one line if it can't."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file. Give the path of your .py file "
                           "(or print a starting file with: charlstm check --template lstm)")
    if path.suffix != ".py":
        raise ImportFailed(f"{path} is not a .py file: charlstm check imports Python source")
    name = f"_charlstm_learner_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        with contextlib.redirect_stdout(io.StringIO()), time_limit(timeout):
            spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ImportFailed(f"cannot import {path.name}: syntax error on line {e.lineno}: "
                           f"{e.msg}{(' -> ' + e.text.strip()) if e.text else ''}") from None
    except Timeout:
        raise ImportFailed(f"cannot import {path.name}: importing it took over {timeout:g} s. "
                           "Is there code at the top level that runs a long job? Put it under "
                           "`if __name__ == \"__main__\":`") from None
    except BaseException as e:     # the learner's own error, SystemExit included
        msg = str(e).splitlines()[0] if str(e) else ""
        raise ImportFailed(f"cannot import {path.name}: {type(e).__name__}"
                           f"{': ' + msg if msg else ''}{where(e)}") from None
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def namespace(source, functions, timeout=TIMEOUT):
    """{name: object} from a file path, a module, a namespace and/or keyword functions."""
    if isinstance(source, (str, Path)):
        source = load_file(source)
    ns = dict(vars(source)) if isinstance(source, ModuleType) else dict(source or {})
    ns.update(functions)
    return ns
