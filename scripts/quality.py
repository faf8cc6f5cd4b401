"""The quality race: charlstm with its defaults against a PyTorch CPU LSTM, same budget.

    python scripts/quality.py                                  # Tiny Shakespeare and python-docs, 10 min each
    python scripts/quality.py --corpus data/tinyshakespeare.txt --minutes 10 --repeats 2

Both sides get the same corpus, the same split (the last --val-frac held out), the same
char-rnn batches (N streams side by side, state carried, reset each epoch), the same
shape and dropout (embedding, L LSTM layers, dropout where charlstm's defaults put it), the
same optimizer (Adam, with charlstm's decoupled weight decay on the weight matrices:
AdamW), learning rate, schedule (charlstm's own ``learning_rate`` with the same
progress), gradient clipping and periodic evaluation, and the same wall-clock budget;
each runs in a fresh process, one after the other. The figure compared is the loss on
the whole validation split, state carried, after the budget, computed the same way for
both. PyTorch keeps its own default initialisation (as a PyTorch user would).

Writes runs/quality/quality-<time>.json and prints a Markdown table. Without torch the
PyTorch side is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from charlstm.data import Batches, encode_corpus, fit_streams, split  # noqa: E402
from charlstm.optim import learning_rate  # noqa: E402
from charlstm.train import TrainConfig, eval_slice_chars  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def run_charlstm(corpus, minutes, out_dir, seed):
    """charlstm train with its defaults; -> the whole-split validation loss and figures."""
    run = out_dir / "charlstm"
    subprocess.run([sys.executable, "-m", "charlstm", "train", str(corpus), "--minutes",
                    str(minutes), "--run-dir", str(run), "--overwrite", "--quiet",
                    "--sample-chars", "0", "--seed", str(seed)], check=True, cwd=ROOT,
                   capture_output=True, text=True)
    import csv
    with open(run / "metrics.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    last = rows[-1]
    return {"val_full": float(last["val_full"]), "best_val_slice": min(float(r["val_loss"]) for r in rows),
            "steps": int(last["step"]), "chars": int(last["chars"]),
            "chars_per_s": int(last["chars"]) / float(last["elapsed_s"])}


def torch_child(corpus, minutes, seed, settings=None, max_steps=None):
    """The same training in PyTorch (runs in its own process). settings: TrainConfig fields
    to change (scripts/bench.py's end-to-end timing uses them, with max_steps)."""
    cfg = TrainConfig(**(settings or {}))
    torch.manual_seed(seed)
    enc = encode_corpus(corpus, cfg.encoding, progress=False)
    V = len(enc.vocab)
    train_ids, val_ids = split(enc.ids, cfg.val_frac)
    N, T = cfg.batch_size, cfg.seq_len
    N_train, _ = fit_streams(len(train_ids), N, T, "training", len(enc.ids), cfg.val_frac)
    N_val, _ = fit_streams(len(val_ids), N, T, "validation", len(enc.ids), cfg.val_frac)
    train_b = Batches(train_ids, N_train, T)
    val_full = Batches(val_ids, N_val, T, partial=True)
    n_slice = eval_slice_chars(cfg, N_train, len(val_ids))
    val_slice = val_full
    if n_slice < len(val_ids) - 1:
        N_s, _ = fit_streams(n_slice + 1, N_val, T, "validation", len(enc.ids), cfg.val_frac)
        val_slice = Batches(val_ids[:n_slice + 1], N_s, T, partial=True)

    H, L, E, p = cfg.hidden_size, cfg.num_layers, cfg.embed_size, cfg.dropout
    emb = torch.nn.Embedding(V, E)
    lstm = torch.nn.LSTM(E, H, L, batch_first=True, dropout=p if L > 1 else 0.0)
    drop = torch.nn.Dropout(p)
    drop_in = torch.nn.Dropout(cfg.model_config(V).input_dropout)
    lin = torch.nn.Linear(H, V)
    modules = [emb, lstm, lin]
    params = [q for m in modules for q in m.parameters()]
    # charlstm's decoupled weight decay: the weight matrices only (not biases, not the
    # embedding); AdamW with weight_decay 0 is Adam.
    matrices = [q for name, q in [*lstm.named_parameters(), *lin.named_parameters()]
                if "weight" in name]
    decayed = {id(w) for w in matrices}
    others = [q for q in params if id(q) not in decayed]
    opt = torch.optim.AdamW([{"params": matrices, "weight_decay": cfg.weight_decay},
                             {"params": others, "weight_decay": 0.0}], lr=cfg.lr)

    def evaluate(batches):
        for m in modules:
            m.eval()
        state, total, count = None, 0.0, 0
        with torch.no_grad():
            for k in range(len(batches)):
                x, y = (torch.from_numpy(a) for a in batches.get(k))
                out, state = lstm(emb(x), state)
                loss = torch.nn.functional.cross_entropy(lin(out).reshape(-1, V), y.reshape(-1),
                                                         reduction="sum")
                total, count = total + loss.item(), count + y.numel()
        for m in modules:
            m.train()
        return total / count

    t0 = time.perf_counter()
    deadline = t0 + 60 * minutes
    step = batch = 0
    state = None
    while (time.perf_counter() < deadline) if max_steps is None else (step < max_steps):
        if batch == 0:
            state = None
        progress = ((time.perf_counter() - t0) / (60 * minutes) if max_steps is None
                    else step / max_steps)
        lr = learning_rate(cfg.lr, step, schedule=cfg.lr_schedule, warmup=cfg.warmup_steps,
                           min_lr=cfg.min_lr, progress=progress)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = (torch.from_numpy(a) for a in train_b.get(batch))
        out, new = lstm(drop_in(emb(x)), state)
        loss = torch.nn.functional.cross_entropy(lin(drop(out)).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        state = tuple(s.detach() for s in new)
        step, batch = step + 1, batch + 1
        if batch == len(train_b):
            batch = 0
        if step % cfg.eval_every == 0:
            evaluate(val_slice)                        # the same periodic cost as charlstm
    elapsed = time.perf_counter() - t0
    return {"val_full": evaluate(val_full), "steps": step, "chars": step * N_train * T,
            "chars_per_s": step * N_train * T / elapsed}


def run_torch(corpus, minutes, seed):
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps([str(corpus), minutes, seed])],
                         check=True, cwd=ROOT, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", help="repeatable [default: data/tinyshakespeare.txt and python-docs]")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=1, help="runs of each side, alternated")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "quality")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(torch_child(*json.loads(args.child))))
        return
    corpora = args.corpus or [str(ROOT / "data" / "tinyshakespeare.txt"), "python-docs"]
    for c in corpora:
        if c != "python-docs" and not Path(c).exists():
            sys.exit(f"error: corpus {c} not found (charlstm download tinyshakespeare fetches "
                     "data/tinyshakespeare.txt)")
    if torch is None:
        print("torch is not installed: the PyTorch side is skipped (pip install torch==2.13.0)",
              file=sys.stderr)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    results = []
    for corpus in corpora:
        for r in range(args.repeats):
            work = args.out / stamp / f"{Path(corpus).stem}-{r}"
            entry = {"corpus": corpus, "repeat": r, "minutes": args.minutes,
                     "charlstm": run_charlstm(corpus, args.minutes, work, seed=r)}
            if torch is not None:
                entry["torch"] = run_torch(corpus, args.minutes, seed=r)
            results.append(entry)
            print(json.dumps(entry), file=sys.stderr, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"quality-{stamp}.json"
    path.write_text(json.dumps({"date": stamp, "torch": getattr(torch, "__version__", None),
                                "results": results}, indent=1))
    print("| corpus | minutes | charlstm val (nats/char) | torch val | charlstm chars/s | torch chars/s |")
    print("|---|---|---|---|---|---|")
    for corpus in corpora:
        rs = [e for e in results if e["corpus"] == corpus]

        def fmt(side, key, f):
            vals = [e[side][key] for e in rs if side in e]
            if not vals:
                return "-"
            s = f.format(statistics.median(vals))
            return s + (f" ({f.format(min(vals))}-{f.format(max(vals))})" if len(vals) > 1 else "")
        print(f"| {Path(corpus).stem} | {args.minutes:g} | {fmt('charlstm', 'val_full', '{:.4f}')} | "
              f"{fmt('torch', 'val_full', '{:.4f}')} | {fmt('charlstm', 'chars_per_s', '{:,.0f}')} | "
              f"{fmt('torch', 'chars_per_s', '{:,.0f}')} |")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
