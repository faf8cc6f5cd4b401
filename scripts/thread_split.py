"""Split a batch over two threads or not: ms a training step at --threads 1 and 2.

    python scripts/thread_split.py --native-blas                      # the grid below
    python scripts/thread_split.py --hidden 384 --batch 32 --dropout 0.35 --rounds 3

For every hidden size H and batch size N, a 2-layer LSTM (E = 64, vocabulary 65) runs
training steps on random ids (``CharLSTM.loss_and_grads``, ``clip_grads``, ``Adam``: the
step scripts/bench.py times) once with ``threads=1``, where BLAS has every core, and once
with ``threads=2``, the batch split of ``model.BatchSplit`` with one BLAS thread each.
Each timing runs in a fresh process and the two alternate, ``--rounds`` times over, so a
slow patch of a shared machine falls on both; the table gives the median of each and
what ``model.auto_threads`` picks for that H and N, to check the rule against the
machine. docs/performance.md, "The batch split over two threads", has the figures.
``--native-blas`` runs the children without ``OPENBLAS_CORETYPE``'s pin (bench.py's flag).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from charlstm.model import auto_threads  # noqa: E402
from scripts import bench  # noqa: E402


def grid(hidden, batches, T, dropout, rounds, reps):
    """[(H, N, ms at 1 thread, ms at 2 threads)], medians over rounds x reps steps."""
    rows = []
    for H in hidden:
        for N in batches:
            times = {1: [], 2: []}
            for _ in range(rounds):
                for threads in (1, 2):
                    cfg = dict(H=H, L=2, N=N, T=T, dropout=dropout, threads=threads)
                    times[threads] += bench.child_times("train", "charlstm", cfg, reps)
            rows.append((H, N, 1e3 * float(np.median(times[1])), 1e3 * float(np.median(times[2]))))
    return rows


def table(rows) -> str:
    out = ["| H | N | ms a step, 1 thread (BLAS on every core) | ms, batch split over 2 | split | auto picks |",
           "|---|---|---|---|---|---|"]
    for H, N, one, two in rows:
        out.append(f"| {H} | {N} | {one:.1f} | {two:.1f} | {100 * (one / two - 1):+.0f}% | "
                   f"{auto_threads(H, N)} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, nargs="+", default=[384, 448, 512])
    ap.add_argument("--batch", type=int, nargs="+", default=[32, 50, 128])
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--rounds", type=int, default=2, help="alternations of the two timings")
    ap.add_argument("--reps", type=int, default=10, help="timed steps in each process")
    ap.add_argument("--native-blas", action="store_true",
                    help="children without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (the kernel users get)")
    args = ap.parse_args(argv)
    bench.CHILD_ENV = bench.native_env() if args.native_blas else None
    info = bench.child_blas(bench.CHILD_ENV)
    print(f"BLAS: {info['library']} {info.get('version')}, {info['architecture']} kernels, "
          f"{info['num_threads']} threads; LSTM steps: {info['lstm_kernels']}; "
          f"T = {args.seq_len}, dropout {args.dropout}")
    print(table(grid(args.hidden, args.batch, args.seq_len, args.dropout, args.rounds, args.reps)))


if __name__ == "__main__":
    main()
