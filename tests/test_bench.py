"""The benchmark script's pieces (not its timings): FLOP count and the jobs it times."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "bench", Path(__file__).resolve().parent.parent / "scripts" / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_step_flops_formula():
    # One layer, E = 64: 3 * 2*N*T*(64 + H)*4H, plus the output layer 3 * 2*N*T*H*V.
    N, T, H = 2, 3, 5
    assert bench.step_flops(H, 1, N, T) == 3 * 2 * N * T * (64 + H) * 4 * H + 3 * 2 * N * T * H * 65


def test_numpy_jobs_run():
    bench.numpy_job(H=8, L=2, N=2, T=3, dropout=0.2)()
    bench.numpy_sampler(8, 1)(5)
