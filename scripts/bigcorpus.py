"""Big corpora: build a large local text, then measure what charlstm needs to train on it.

    python scripts/bigcorpus.py make --mb 1000 --out runs/big/big.txt   # ~1 GB, ~1 minute
    python scripts/bigcorpus.py measure runs/big/big.txt                # memory and start time

The text is the Python documentation that ships with CPython (pydoc_data), paragraphs
shuffled anew for every repetition, with lines in other scripts mixed in (Greek,
Cyrillic, CJK, Arabic, Devanagari, emoji) and a long tail of rare characters (a few
thousand CJK ideographs seen a handful of times each), as real multilingual text has.
Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="build a large corpus from local text")
    m.add_argument("--mb", type=float, default=1000)
    m.add_argument("--out", type=Path, default=Path("runs/big/big.txt"))
    m.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.cmd == "make":
        make(args.out, args.mb, args.seed)


if __name__ == "__main__":
    main()
