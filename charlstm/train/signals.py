"""Stop signals and stderr: Ctrl-C, SIGTERM and SIGHUP become a flag the loop checks
between steps (_StopFlag), and the log lines go to a stderr that outlives a closed
terminal (_STDERR).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager


STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")      # Ctrl-C; kill, timeout, schedulers; a closed terminal


class _StopFlag:
    """Ctrl-C, SIGTERM and SIGHUP set a flag the loop checks between steps, so no update
    is cut in half, and the run ends as at its limit: a final evaluation, latest.npz.

    After the first signal the final evaluation may take ``eval_seconds`` (then it is
    cut short, between two batches); a second signal skips what is left of it. A third,
    while the run is still in a step (a long one: a big model), ends the process at once
    as an uncaught signal does, after the checkpoint being written if one is; once the
    run is finishing, only the save of latest.npz is left, and it is waited for. The
    handlers only count: the loop does the rest.
    """

    def __init__(self, eval_seconds: float = 5.0, clock=time.perf_counter):
        self.eval_seconds, self.clock = eval_seconds, clock
        self.count, self.signum, self.at = 0, None, None
        self.saving, self.finishing, self._pending = False, False, None
        self._old = {}

    @property
    def set(self) -> bool:
        return self.count > 0

    @property
    def name(self) -> str | None:
        return signal.Signals(self.signum).name if self.signum is not None else None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for name in STOP_SIGNALS:
                if hasattr(signal, name):              # SIGHUP is POSIX only
                    sig = getattr(signal, name)
                    self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.count += 1
        if self.count == 1:
            self.signum, self.at = signum, self.clock()
        elif self.count >= 3 and not self.finishing:
            if self.saving:                            # let the checkpoint be whole first
                self._pending = signum
            else:
                self._die(signum)

    def _die(self, signum):
        self.__exit__()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    @contextmanager
    def saving_checkpoint(self):
        self.saving = True
        try:
            yield
        finally:
            self.saving = False
            if self._pending is not None and not self.finishing:
                self._die(self._pending)

    def evaluation_cut(self) -> str | None:
        """Why the final evaluation must stop now (None: go on)."""
        if self.count >= 2:
            return f"a second {self.name}"
        if self.clock() - self.at >= self.eval_seconds:
            return f"--stop-eval-seconds {self.eval_seconds:g} ran out"
        return None

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}


class _Stderr:
    """Where the log lines and the progress bar go: stderr, except that once the terminal
    is gone (a hang-up: every write fails with EIO) the lines are dropped, so the run
    still finishes its step and saves."""

    def write(self, text):
        try:
            return sys.stderr.write(text)
        except OSError:
            return len(text)

    def flush(self):
        try:
            sys.stderr.flush()
        except OSError:
            pass

    def __getattr__(self, name):                       # isatty, fileno, encoding: stderr's
        return getattr(sys.stderr, name)


_STDERR = _Stderr()


def _describe_signal(name: str) -> str:
    return {"SIGINT": "Ctrl-C (SIGINT)", "SIGHUP": "SIGHUP (the terminal closed)"}.get(name, name)
