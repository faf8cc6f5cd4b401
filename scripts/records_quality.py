"""Records quality on makemore's names: charlstm --records lines against makemore's figure.

    python scripts/records_quality.py                                   # data/names.txt, 10 min, seeds 0 1
    python scripts/records_quality.py --minutes 2 --seeds 0 \\
        --variant "" --variant "--hidden-size 384"                       # tuning: variants alternated
    python scripts/records_quality.py --throughput                      # padding: its share and speed

The split is makemore's when PyTorch is installed (makemore.py: torch.manual_seed(3407),
torch.randperm(len(words)), the last min(1000, 10%) for its test set; words are the
file's lines, stripped, empty ones dropped), else a seeded NumPy permutation of the same
size. charlstm trains on the training words (written to a file, one per line) with
``--records lines``, holding out --val-frac of them for its own validation (which picks
best.npz); the test words are never seen. For each run the table gives the steps, the
best validation loss, the loss of best.npz on the test words (nats per predicted
symbol, the end of each name included, as makemore's test loss), and of --samples names
sampled at temperature 1, the share already in the training list (makemore's "new names
that are not already existing names" is the rest).

The runs go one after the other: for each seed, every variant in turn. Writes
runs/records-quality/records-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from charlstm import checkpoint as ckpt  # noqa: E402
from charlstm.evaluate import score_records  # noqa: E402
from charlstm.plot import read_metrics  # noqa: E402
from charlstm.sample import sample_record  # noqa: E402


def makemore_split(words: list[str]):
    """(train, test, how): makemore's split if torch is installed, else a seeded one."""
    n_test = min(1000, int(len(words) * 0.1))
    try:
        import torch
        torch.manual_seed(3407)
        rp = torch.randperm(len(words)).tolist()
        how = "makemore's (torch.manual_seed(3407), torch.randperm)"
    except ImportError:
        rp = np.random.default_rng(3407).permutation(len(words)).tolist()
        how = "a NumPy permutation (seed 3407; PyTorch is not installed, so not makemore's own)"
    return [words[i] for i in rp[:-n_test]], [words[i] for i in rp[-n_test:]], how


def kernel() -> str:
    from threadpoolctl import threadpool_info
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                     for i in blas) or "unknown"


def run_one(train_file, test_words, train_set, out_dir, minutes, seed, flags, val_frac,
            n_samples):
    run = out_dir / "run"
    cmd = [sys.executable, "-m", "charlstm", "train", str(train_file), "--records", "lines",
           "--minutes", str(minutes), "--seed", str(seed), "--val-frac", f"{val_frac:.6f}",
           "--run-dir", str(run), "--overwrite", "--quiet", *shlex.split(flags)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    m = read_metrics(run)
    ck = ckpt.load(run / "best.npz")
    model, vocab = ck.model(), ck.vocab
    test = score_records(model, vocab, "\n".join(test_words), "lines")
    rng = np.random.default_rng(seed)
    samples = [sample_record(model, vocab, 100, rng=rng) for _ in range(n_samples)]
    return {"flags": flags, "seed": seed, "run": str(run), "steps": int(m["step"][-1]),
            "epochs": m["epoch"][-1], "best_val": min(m["val_loss"]),
            "val_full": m["val_full"][-1], "test": test["loss"],
            "chars_per_s": m["chars"][-1] / m["elapsed_s"][-1], "wall_s": wall,
            "in_train": sum(s in train_set for s in samples) / len(samples),
            "samples": samples[:20], "command": shlex.join(cmd[1:])}


def throughput(train_file, out_dir, minutes):
    """Padding against packing, measured: the share of padded positions in an epoch's
    record batches, and the predictions per second of a records run against a stream
    run on the same text (the records joined by newlines, read as one stream: the full
    N x T batches packing would give, without its state resets, so an upper bound on
    packing's speed)."""
    from charlstm.data import RecordBatches
    from charlstm.train import TrainConfig
    cfg = TrainConfig()
    words = [w for w in Path(train_file).read_text(encoding="utf-8").split("\n") if w]
    lengths = np.array([len(w) for w in words])
    rb = RecordBatches(np.zeros(lengths.sum(), np.int64), np.cumsum(lengths) - lengths, lengths,
                       0, cfg.batch_size, cfg.seq_len, seed=0)
    shapes = [rb.get(k)[1] for k in range(len(rb))]
    cells = sum(y.size for y in shapes)
    scored = sum(int((y >= 0).sum()) for y in shapes)
    print(f"records batches: {len(rb):,} per epoch, mean {cells / len(rb):.0f} positions "
          f"(N x t, t = the longest row), {100 * (1 - scored / cells):.1f}% of them padding")
    speed = {}
    for name, flags in (("records (padded)", ["--records", "lines"]), ("stream", [])):
        run = out_dir / "throughput" / name.split()[0]
        cmd = [sys.executable, "-m", "charlstm", "train", str(train_file), "--minutes",
               str(minutes), "--eval-every", "1000000", "--checkpoint-every", "1000000",
               "--sample-chars", "0", "--run-dir", str(run), "--overwrite", "--quiet", *flags]
        subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
        m = read_metrics(run)
        speed[name] = m["chars"][-1] / m["elapsed_s"][-1]
        print(f"{name}: {m['step'][-1]:,.0f} steps, {speed[name]:,.0f} predictions/s")
    print(f"the stream's full batches score {speed['stream'] / speed['records (padded)']:.2f}x "
          f"the predictions per second of the padded record batches ({kernel()})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="data/names.txt", help="one name per line (charlstm download names)")
    ap.add_argument("--minutes", type=float, default=10.0,
                    help="per run (a variant's --max-steps, if it has one, may stop it first)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--variant", action="append", default=None,
                    help="extra charlstm train flags for one variant (repeatable; default: the records defaults)")
    ap.add_argument("--val-frac", type=float, default=None,
                    help="charlstm's own validation share of the training words [default: 1000 of them]")
    ap.add_argument("--samples", type=int, default=200, help="names sampled per run")
    ap.add_argument("--out", default="runs/records-quality")
    ap.add_argument("--throughput", action="store_true",
                    help="measure padding instead: its share and speed against a stream run (--minutes each)")
    args = ap.parse_args(argv)
    variants = args.variant or [""]

    text = Path(args.corpus).read_text(encoding="utf-8")
    words = [w.strip() for w in text.splitlines()]
    words = [w for w in words if w]
    train_words, test_words, how = makemore_split(words)
    out = (ROOT / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    train_file = out / "train-words.txt"
    train_file.write_text("\n".join(train_words) + "\n", encoding="utf-8")
    val_frac = args.val_frac if args.val_frac is not None else min(1000, len(train_words) // 10) / len(train_words)
    print(f"{len(words):,} words ({len(set(words)):,} distinct); split: {how}: "
          f"{len(train_words):,} train / {len(test_words):,} test; charlstm holds out "
          f"{val_frac:.4f} of the training words for its validation")
    print(f"BLAS: {kernel()}; {args.minutes:g} min per run; seeds {args.seeds}")
    train_set = set(train_words)
    if args.throughput:
        return throughput(train_file, out, args.minutes)

    results = []
    for seed in args.seeds:
        for flags in variants:
            work = out / "work" / f"v{variants.index(flags)}-seed{seed}"
            r = run_one(train_file, test_words, train_set, work, args.minutes, seed,
                        flags, val_frac, args.samples)
            results.append(r)
            print(f"[{flags or 'defaults'}] seed {seed}: {r['steps']} steps ({r['epochs']:.1f} "
                  f"epochs), best val {r['best_val']:.4f}, test {r['test']:.4f} nats/symbol, "
                  f"{r['chars_per_s']:,.0f} symbols/s, {100 * r['in_train']:.1f}% of samples in "
                  f"the training list; samples: {' '.join(r['samples'][:10])}", flush=True)

    print("\n| variant | runs | test loss, median (range) | best val, median | steps | in training list |")
    print("|---|---|---|---|---|---|")
    for flags in variants:
        rs = [r for r in results if r["flags"] == flags]
        t = [r["test"] for r in rs]
        print(f"| {flags or 'records defaults'} | {len(rs)} | {statistics.median(t):.4f} "
              f"({min(t):.4f}-{max(t):.4f}) | {statistics.median(r['best_val'] for r in rs):.4f} | "
              f"{statistics.median(r['steps'] for r in rs):,.0f} | "
              f"{100 * statistics.median(r['in_train'] for r in rs):.1f}% |")
    path = out / f"records-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps({"split": how, "kernel": kernel(), "minutes": args.minutes,
                                "results": results}, indent=1) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
