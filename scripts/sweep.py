"""The defaults sweep: `charlstm train` with one setting changed at a time, same budget.

    python scripts/sweep.py --corpus data/tinyshakespeare.txt --minutes 5 \\
        --variant base= --variant lr=1e-2 --variant dropout=0.1 --variant batch-size=64

Each variant is a name=flags pair; the flags are added to `charlstm train CORPUS --minutes M`
(`base=` adds none, `lr=1e-2` is short for `lr=1e-2=--lr 1e-2`, and `big=--hidden-size 384
--embed-size 96` sets several). Every variant runs on every corpus, each in a fresh process,
one after the other; --repeats N runs the whole list N times over, so variants alternate and
a slow patch of a shared machine does not fall on one of them; --seeds 0 1 2 does the same
with --seed 0, 1, 2 (the spread is then the seeds' as well as the machine's). The figure
is the loss on the whole validation split after the budget (metrics.csv's val_full), for
the last weights and for best.npz (the run scores both at its end); each result also
gives the epochs, and the step where the validation slice was lowest (where it flattened). --parallel 2 runs two
at a time with one thread each (BLAS and --threads 1): more runs per hour on 2 cores, but not the setting a
user's run has, so confirm a winner alone.

Writes runs/sweep/sweep-<time>.json and prints a Markdown table. The runs' folders are
deleted at the end unless --keep-runs keeps them, as runs/sweep/sweep-<time>/<variant>-<n>,
for their metrics.csv, checkpoints and loss plots (each result's "run_dir" names its own).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_variant(text: str) -> tuple[str, list[str]]:
    name, _, flags = text.partition("=")
    if not name:
        raise SystemExit(f"error: --variant {text!r}: give NAME=FLAGS, e.g. lr=1e-2 or base=")
    if flags and not flags.startswith("--"):                   # lr=1e-2 -> --lr 1e-2
        name, flags = text, f"--{name} {flags}"
    return name, flags.split()


def run_one(corpus, minutes, flags, run_dir, threads=None):
    """Start `charlstm train`; returns the process (its run folder is run_dir)."""
    env = dict(os.environ)
    if threads:
        env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "charlstm", "train", str(corpus), "--minutes", str(minutes),
           "--run-dir", str(run_dir), "--overwrite", "--quiet", "--sample-chars", "0", *flags]
    if threads:
        cmd += ["--threads", str(threads)]             # and no batch split over threads
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def result_of(proc, run_dir) -> dict:
    _, err = proc.communicate()
    if proc.returncode != 0:
        return {"error": (err.strip().splitlines() or ["?"])[-1]}
    with open(Path(run_dir) / "metrics.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    last = rows[-1]
    best = min(rows, key=lambda r: float(r["val_loss"]))
    sys.path.insert(0, str(ROOT))
    from charlstm import checkpoint
    best_full = checkpoint.load(Path(run_dir) / "best.npz").meta.get("full_val_loss")
    config = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
    return {"val_full": float(last["val_full"]), "best_full": best_full,
            # the size the run trained (chosen for its budget unless the flags set it)
            "hidden_size": config["train"]["hidden_size"], "dropout": config["train"]["dropout"],
            "size_choice": config.get("size_choice", {}).get("timed"),
            "steps": int(last["step"]), "epochs": float(last["epoch"]),
            "best_val_slice": float(best["val_loss"]), "best_step": int(best["step"]),
            "chars_per_s": int(last["chars"]) / float(last["elapsed_s"])}


def safe(name: str) -> str:
    """A variant's name as a folder name: letters, digits, '.', '_' and '-' kept."""
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


def kernel() -> str:
    """The BLAS a child run gets (this environment's), as threadpoolctl names it."""
    code = ("import numpy, threadpoolctl; print(', '.join(f\"{i.get('internal_api')} "
            "{i.get('version')} {i.get('architecture')}\" for i in threadpoolctl.threadpool_info() "
            "if i.get('user_api') == 'blas'))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", action="append", required=True, help="repeatable")
    ap.add_argument("--variant", action="append", required=True, help="NAME=FLAGS, repeatable")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=None,
                    help="run the list once per seed (--seed S added), instead of --repeats")
    ap.add_argument("--parallel", type=int, default=1, choices=[1, 2])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "sweep")
    ap.add_argument("--keep-runs", action="store_true",
                    help="keep every run's folder under OUT/sweep-<time>/ (default: deleted)")
    args = ap.parse_args(argv)
    variants = [parse_variant(v) for v in args.variant]
    seeds = args.seeds if args.seeds is not None else [None] * args.repeats
    jobs = [(r, c, name, flags + ([] if s is None else ["--seed", str(s)]))
            for r, s in enumerate(seeds) for c in args.corpus for name, flags in variants]
    blas = kernel()
    print(f"BLAS: {blas}", flush=True)
    results = []
    stamp = f"sweep-{datetime.now():%Y%m%d-%H%M%S}"
    kept = args.out / stamp
    folders = (contextlib.nullcontext(kept) if args.keep_runs
               else tempfile.TemporaryDirectory(prefix="charlstm-sweep-"))
    with folders as tmp:
        for i in range(0, len(jobs), args.parallel):
            batch = jobs[i:i + args.parallel]
            threads = 1 if args.parallel > 1 else None
            dirs = [Path(tmp) / (f"{safe(job[2])}-{i + k}" if args.keep_runs else f"r{i + k}")
                    for k, job in enumerate(batch)]
            procs = [(job, run_one(job[1], args.minutes, job[3], d, threads), d)
                     for job, d in zip(batch, dirs)]
            for (rep, corpus, name, flags), proc, run_dir in procs:
                res = {"corpus": corpus, "variant": name, "flags": " ".join(flags),
                       "repeat": rep, **result_of(proc, run_dir)}
                if args.keep_runs:
                    res["run_dir"] = os.path.relpath(run_dir, ROOT)
                results.append(res)
                print(json.dumps(res), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"{stamp}.json"
    out.write_text(json.dumps({"minutes": args.minutes, "parallel": args.parallel, "blas": blas,
                               "when": time.strftime("%Y-%m-%d %H:%M"),
                               "results": results}, indent=2) + "\n")
    print(f"\n{args.minutes:g} min each"
          + (", two at a time with one BLAS thread each" if args.parallel > 1 else "")
          + f"; {blas}; whole-split validation loss in nats/char (median ± half the range), last weights / best.npz "
          f"(steps, epochs, hidden size); {os.path.relpath(out, ROOT)}\n")
    print("| variant | flags | " + " | ".join(args.corpus) + " |")
    print("|---|---|" + "---|" * len(args.corpus))
    for name, flags in variants:
        cells = []
        for c in args.corpus:
            rs = [r for r in results if r["corpus"] == c and r["variant"] == name and "val_full" in r]
            if not rs:
                cells.append("failed")
                continue
            vals = [r["val_full"] for r in rs]
            bests = [r["best_full"] for r in rs if r.get("best_full") is not None]
            spread = f" ±{(max(vals) - min(vals)) / 2:.3f}" if len(vals) > 1 else ""
            best = f" / {statistics.median(bests):.3f}" if bests else ""
            sizes = "/".join(sorted({f"{r['hidden_size']}" for r in rs}))
            cells.append(f"{statistics.median(vals):.3f}{spread}{best} "
                         f"({round(statistics.mean(r['steps'] for r in rs)):,}, "
                         f"{statistics.mean(r['epochs'] for r in rs):.1f} ep, H {sizes})")
        print(f"| {name} | `{' '.join(flags)}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
