"""Big corpora: build a large local text, then measure what charlstm needs to train on it.

    python scripts/bigcorpus.py make --mb 1000 --out runs/big/big.txt   # ~1 GB, ~30 s
    python scripts/bigcorpus.py memory runs/big/big.txt data/tinyshakespeare.txt
    python scripts/bigcorpus.py evalshare runs/big/big.txt --mb 100     # periodic eval share
    python scripts/bigcorpus.py vocab runs/big/big.txt data/tinyshakespeare.txt

memory: peak resident memory (/usr/bin/time -v, "Maximum resident set size") of
`charlstm train CORPUS --max-steps 1` on the big corpus, first with an empty corpus cache
(streaming encode) and then cached, against the same command on a small corpus. The
figure includes the pages of the memory-mapped ids the run touched (few: one batch and a
small validation split of ~4,000 characters), so it is an upper bound of the rest.
Start-up is the command's wall time less the run's own elapsed time (metrics.csv):
imports, reading or encoding the corpus, building the model, up to the first step.
evalshare: trains on the first MB of the corpus with the default evaluation settings
and reports the share of wall time the periodic evaluations took (eval_s in
metrics.csv, the final whole-split pass excluded; --val-frac 0.02 keeps that pass short).
vocab: training chars/s (batches from the memory-mapped ids, forward, backward, clipping,
Adam; the default model) on the big corpus with every character kept, with rare
characters folded (--min-char-count), and on a small corpus, in one process, the three
alternated in blocks of steps.

The text is the Python documentation that ships with CPython (pydoc_data), paragraphs
shuffled anew for every repetition, with lines in other scripts mixed in (Greek,
Cyrillic, CJK, Arabic, Devanagari, emoji) and a long tail of rare characters (a few
thousand CJK ideographs seen a handful of times each), as real multilingual text has.
Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORLD = ["Καλημέρα κόσμε, η γλώσσα είναι ζωντανή.", "Привет, мир! Съешь же ещё этих мягких булок.",
         "日本語のテキストも混ざっています。", "中文文本也在这里。", "مرحبا بالعالم، هذا نص عربي.",
         "नमस्ते दुनिया, यह हिंदी पाठ है।", "Ça va très bien, merci — à bientôt!",
         "Grüße aus Köln: Straße, Größe, Übermaß.", "emoji 🎉🐍✨ and symbols ∑ ∫ √ ≈ ≠ ∞"]


def make(out: Path, mb: float, seed: int = 0):
    from charlstm.data import load_corpus
    rng = np.random.default_rng(seed)
    paras = [p for p in re.split(r"\n\s*\n", load_corpus("python-docs").text) if p.strip()]
    rare = [chr(c) for c in rng.choice(np.arange(0x4E00, 0x9FFF), 3000, replace=False)]
    target = int(mb * 1e6)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(out, "w", encoding="utf-8") as fh:
        while written < target:
            parts = []
            for i in rng.permutation(len(paras)):
                parts.append(paras[i])
                r = rng.random()
                if r < 0.05:
                    parts.append(WORLD[rng.integers(len(WORLD))])
                elif r < 0.052:
                    parts.append("rare: " + "".join(rng.choice(rare, 3)))
            block = "\n\n".join(parts) + "\n\n"
            data = block.encode("utf-8")
            fh.write(block)
            written += len(data)
    print(f"wrote {out}: {written / 1e6:.0f} MB")


def _timed(args, env=None):
    """Run a command under /usr/bin/time -v: (seconds, peak RSS in MiB, stdout)."""
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True, env=env)
    secs = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{r.stderr[-2000:]}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return secs, peak / 1024, r.stdout


def _train(corpus, run, *flags, cache=None):
    env = dict(os.environ)
    if cache is not None:
        env["CHARLSTM_CACHE"] = str(cache)
    return _timed([sys.executable, "-m", "charlstm", "train", str(corpus), "--run-dir", str(run),
                   "--overwrite", "--quiet", "--sample-chars", "0", *map(str, flags)], env=env)


def _rows(run):
    import csv
    with open(Path(run) / "metrics.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _head(corpus: Path, mb: float, out: Path) -> Path:
    """The first ``mb`` megabytes of corpus, cut at a line end."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(corpus, "rb") as f:
        data = f.read(int(mb * 1e6))
    out.write_bytes(data[:data.rfind(b"\n") + 1])
    return out


def memory(big: Path, small: Path, work: Path):
    import shutil
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    results = {}
    for label, corpus in [("small", small), ("big, first start", big), ("big, cached", big)]:
        # A validation split of about 4,000 characters on both, so the final whole-split
        # pass is as quick on each and the figures are about loading and the first step.
        vf = 4000 / corpus.stat().st_size
        secs, peak, _ = _train(corpus, work / "run-mem", "--max-steps", 1, "--val-frac", vf,
                               "--eval-every", 1000, cache=cache)
        start = secs - float(_rows(work / "run-mem")[-1]["elapsed_s"])
        results[label] = (start, peak)
        print(f"{label:18s} {corpus}: start-up {start:5.1f} s (whole command {secs:5.1f} s), "
              f"peak RSS {peak:6.0f} MiB", flush=True)
    base = results["small"][1]
    print(f"big over small: first start +{results['big, first start'][1] - base:.0f} MiB, "
          f"cached +{results['big, cached'][1] - base:.0f} MiB; start-up with the cache "
          f"{results['big, cached'][0]:.1f} s (small corpus: {results['small'][0]:.1f} s)")
    return results


def evalshare(big: Path, mb: float, minutes: float, work: Path):
    corpus = _head(big, mb, work / f"head-{mb:g}mb.txt")
    secs, _, _ = _train(corpus, work / "run-eval", "--minutes", minutes, "--val-frac", 0.02,
                        cache=work / "cache")
    rows = _rows(work / "run-eval")
    periodic = [r for r in rows if not r["val_full"]] or rows
    last = periodic[-1]
    share = float(last["eval_s"]) / float(last["elapsed_s"])
    print(f"{corpus} ({corpus.stat().st_size / 1e6:.0f} MB): {len(periodic)} periodic evaluations "
          f"of {int(last['val_chars']):,} chars took {float(last['eval_s']):.1f} s of "
          f"{float(last['elapsed_s']):.1f} s = {100 * share:.1f}% of the wall time "
          f"(whole run with the final pass and start-up: {secs:.0f} s)")
    return share


def vocab(big: Path, small: Path, steps: int, min_count: int, work: Path, rounds: int = 5):
    """Training chars/s with the default model on each corpus's ids, in one process,
    alternating the corpora in short blocks of steps so drift hits all alike."""
    import statistics
    os.environ["CHARLSTM_CACHE"] = str(work / "cache")
    from charlstm.data import Batches, encode_corpus
    from charlstm.model import CharLSTM
    from charlstm.optim import Adam, clip_grads, take_step
    from charlstm.train import TrainConfig
    cfg = TrainConfig()
    N, T = cfg.batch_size, cfg.seq_len
    jobs = {}
    for label, corpus, mc in [("small corpus", small, 1), ("big, every character", big, 1),
                              (f"big, --min-char-count {min_count}", big, min_count)]:
        enc = encode_corpus(corpus, min_count=mc, cache=True)
        model = CharLSTM(cfg.model_config(len(enc.vocab)), seed=0)
        jobs[label] = [len(enc.vocab), Batches(enc.ids, N, T), model, Adam(model.params),
                       model.init_state(N), 0, []]

    def block(job, n):
        V, batches, model, opt, state, k, _ = job
        t = time.perf_counter()
        for _ in range(n):
            x, y = batches.get(k)
            _, grads, state = model.loss_and_grads(x, y, state)
            clip_grads(grads, cfg.grad_clip)
            take_step(opt, model.params, grads, cfg.lr, cfg.weight_decay)
            k += 1
        job[4], job[5] = state, k
        return n * N * T / (time.perf_counter() - t)
    for job in jobs.values():
        block(job, 2)                                  # warm-up
    for _ in range(rounds):
        for job in jobs.values():
            job[6].append(block(job, steps // rounds))
    for label, job in jobs.items():
        rs = job[6]
        print(f"{label:32s} vocab {job[0]:5d}: median {statistics.median(rs):8,.0f} chars/s "
              f"(blocks: {', '.join(f'{r:,.0f}' for r in rs)})", flush=True)
    return {label: job[6] for label, job in jobs.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="build a large corpus from local text")
    m.add_argument("--mb", type=float, default=1000)
    m.add_argument("--out", type=Path, default=Path("runs/big/big.txt"))
    m.add_argument("--seed", type=int, default=0)
    me = sub.add_parser("memory", help="peak memory and start time, big vs small corpus")
    me.add_argument("big", type=Path)
    me.add_argument("small", type=Path)
    ev = sub.add_parser("evalshare", help="share of wall time spent in periodic evaluation")
    ev.add_argument("big", type=Path)
    ev.add_argument("--mb", type=float, default=100)
    ev.add_argument("--minutes", type=float, default=3)
    vo = sub.add_parser("vocab", help="chars/s with thousands of symbols, folded or not")
    vo.add_argument("big", type=Path)
    vo.add_argument("small", type=Path)
    vo.add_argument("--steps", type=int, default=100, help="steps per corpus, in 5 blocks")
    vo.add_argument("--min-count", type=int, default=1000)
    for p in (me, ev, vo):
        p.add_argument("--work", type=Path, default=Path("runs/big"))
    args = ap.parse_args()
    if args.cmd == "make":
        make(args.out, args.mb, args.seed)
    elif args.cmd == "memory":
        memory(args.big, args.small, args.work)
    elif args.cmd == "evalshare":
        evalshare(args.big, args.mb, args.minutes, args.work)
    else:
        vocab(args.big, args.small, args.steps, args.min_count, args.work)


if __name__ == "__main__":
    main()
