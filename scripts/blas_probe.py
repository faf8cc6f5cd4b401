"""What BLAS a fresh process runs: library, kernel, threads; charlstm's LSTM steps; and
with --peak the float32 matmul peak. bench.py runs it as a child, in the environment its
timings get (so that --native-blas's shows), and prints the result in its header.

    python scripts/blas_probe.py [--peak]      # one line of JSON
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def blas_info() -> dict:
    """NumPy's BLAS in this process: library, version, kernel, threads (threadpoolctl)."""
    from threadpoolctl import threadpool_info
    libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
    if not libs:
        return {"library": "unknown", "version": None, "architecture": None, "num_threads": None}
    i = libs[0]
    return {"library": i["internal_api"], "version": i.get("version"),
            "architecture": i.get("architecture"), "num_threads": i["num_threads"],
            "threading_layer": i.get("threading_layer")}


def lstm_kernels() -> str:
    """Which LSTM steps charlstm runs in this process: "numba X.Y" (charlstm.fused, the
    [fast] extra) or "numpy" (layers.py's loops)."""
    sys.path.insert(0, str(ROOT))
    from charlstm import fused
    if not fused.active():
        return "numpy"
    from importlib.metadata import version
    return f"numba {version('numba')}"


def matmul_peak(n=2048, reps=5) -> float:
    """float32 GEMM FLOP/s measured here: the ceiling for this machine."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ a
        ts.append(time.perf_counter() - t)
    return 2 * n ** 3 / float(np.median(ts))


def probe(peak=False) -> dict:
    info = dict(blas_info(), lstm_kernels=lstm_kernels())
    if peak:
        info["matmul_peak"] = matmul_peak()
    return info


if __name__ == "__main__":
    print(json.dumps(probe(peak="--peak" in sys.argv[1:])))
