"""Optional compiled kernels for the LSTM's per-step element-wise work.

``pip install 'charlstm[fast]'`` installs numba, and then ``layers.lstm_forward`` and
``layers.lstm_backward`` run them; without numba nothing here is used and the NumPy
loops of ``layers.py``, the readable reference, run instead. The kernels themselves are
in ``_numba_kernels.py``, imported on first use: numba's import and the loading of
the cached kernels take about a second, which no command that never runs an LSTM should
pay (the first run after installing compiles them, a few seconds, into numba's cache).

What they replace: the time loop stays in Python and every matrix product stays a
NumPy (BLAS) call, but the element-wise work of one time step, ten NumPy calls in the
forward and eight in the backward, each a pass over memory with 1-2 us of fixed cost,
becomes one compiled loop over the step's (H, N) units that reads and writes each value
once. That loop reads and writes strided memory at no extra cost, so the passes the
NumPy path spends on layout go too: the copy of the input projections into per-step
blocks and of the h_t into the feature-major output, the backward's local factors
computed for all T before its loop, and the copy of d(pre-activation) between layouts.
The kernels release the GIL, so the threads of a ``model.BatchSplit`` run them at once.

One more kernel does the optimizer's work: ``optim.take_step`` with Adam runs the weight
decay and Adam's update as one pass over each parameter (``adamw_update``), where NumPy
makes about a dozen, with the same result to the bit.

Same equations as ``layers.lstm_step_forward``/``lstm_step_backward``, and the same
arrays in the cache, so either backward runs after either forward. Results agree with
the NumPy path to rounding, not bit for bit: in float32 the kernels' tanh is a rational
function within a few ulps (see ``_numba_kernels``). Runs resume bit for bit as long as
the same path runs before and after.

Switch: ``CHARLSTM_KERNELS=numpy`` in the environment, or ``fused.use(False)``, keeps the
NumPy path with numba installed.
"""

from __future__ import annotations

import importlib.util
import os
from contextlib import contextmanager

AVAILABLE = importlib.util.find_spec("numba") is not None
_on = AVAILABLE and os.environ.get("CHARLSTM_KERNELS", "").strip().lower() != "numpy"
_kernels = None


def active() -> bool:
    """Whether the LSTM layers run the compiled kernels."""
    return _on


def use(on: bool) -> bool:
    """Turn the compiled kernels on or off (on needs numba); returns the previous setting."""
    global _on
    if on and not AVAILABLE:
        from .errors import CharlstmError
        raise CharlstmError("the compiled kernels need numba: pip install 'charlstm[fast]'")
    prev, _on = _on, bool(on)
    return prev


@contextmanager
def off():
    """``with fused.off():`` runs the NumPy loops inside, whatever the setting (``charlstm
    check`` compares a learner's code with them, the readable reference)."""
    prev = use(False)
    try:
        yield
    finally:
        use(prev)


def lstm_kernels(dtype):
    """The compiled kernels for arrays of ``dtype`` (the module ``_numba_kernels``:
    ``lstm_step_forward``, ``lstm_step_backward``, ``scaled_transpose``), or None for the
    NumPy path (kernels off, or a dtype they are not built for)."""
    global _kernels
    if not _on or dtype.name not in ("float32", "float64"):
        return None
    if _kernels is None:
        from . import _numba_kernels
        _kernels = _numba_kernels
    return _kernels
