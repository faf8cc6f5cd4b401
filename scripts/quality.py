"""The quality race: charlstm with its defaults against a PyTorch CPU LSTM, same budget.

    python scripts/quality.py                                  # Tiny Shakespeare and python-docs, 10 min each
    python scripts/quality.py --corpus data/tinyshakespeare.txt --minutes 10 --repeats 2
    python scripts/quality.py --torch-recipe charlstm          # one PyTorch recipe only

Every side gets the same corpus, the same split (the last --val-frac held out), the same
char-rnn batches (N streams side by side, state carried, reset each epoch), the same
shape and dropout (embedding, L LSTM layers, dropout where charlstm's defaults put it;
the hidden size and dropout charlstm's run chose for its budget, charlstm/sizing.py),
gradient clipping, periodic evaluation and wall-clock budget; each runs in a fresh
process, one after the other. The figures compared are the loss on the whole validation
split, state carried, computed the same way for all: of the last weights, and of the
weights kept where the periodic evaluation (the same slice for all) was lowest, which is
charlstm's best.npz, and of the weights averaged over the run's last steps (ema.npz;
the PyTorch side of the charlstm recipe keeps the same average). PyTorch keeps its own default initialisation (as a PyTorch user
would).

The PyTorch LSTM is trained with one or both recipes (RECIPES, --torch-recipe):
  charlstm    charlstm's own defaults: Adam with its decoupled weight decay on the weight
              matrices (AdamW), its peak rate, warm-up and budget-aware schedule, through
              charlstm's ``learning_rate`` with the same progress, and its weight average
              (``optim.WeightAverage``'s arithmetic, --ema-decay). Only the
              implementations differ: speed, initialisation, numerics.
  torch-rnn   the classic recipe of jcjohnson/torch-rnn's train.lua: Adam at 2e-3,
              halved every 5 epochs, no weight decay, no warm-up, no average. What a PyTorch user
              porting the classic char model runs; charlstm's recipe is then on trial too.

Writes runs/quality/quality-<time>.json and prints a Markdown table. Without torch the
PyTorch side is skipped with a message.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from charlstm import checkpoint as ckpt  # noqa: E402
from charlstm.data import Batches, encode_corpus, fit_streams, split  # noqa: E402
from charlstm.optim import learning_rate  # noqa: E402
from charlstm.plot import read_metrics  # noqa: E402
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
    m = read_metrics(run)                              # {column: [float per evaluation]}
    config = json.loads((run / "config.json").read_text())
    best = ckpt.load(run / "best.npz").meta
    ema = ckpt.load(run / "ema.npz").meta if (run / "ema.npz").exists() else {}
    return {"val_full": m["val_full"][-1], "best_val_slice": min(m["val_loss"]),
            "ema_full": ema.get("full_val_loss"),
            "best_full": best.get("full_val_loss"), "best_step": best.get("step"),
            "steps": int(m["step"][-1]), "chars": int(m["chars"][-1]),
            "chars_per_s": m["chars"][-1] / m["elapsed_s"][-1],
            # the size and dropout the run chose for its budget (charlstm/sizing.py)
            "shape": {k: config["train"][k] for k in SHAPE},
            "size_choice": config.get("size_choice", {}).get("why")}


# The settings of charlstm's run that the PyTorch side copies: the size it chose.
SHAPE = ("hidden_size", "dropout")


# TrainConfig fields each PyTorch recipe changes from charlstm's defaults.
RECIPES = {
    "charlstm": {},
    "torch-rnn": {"lr": 2e-3, "lr_schedule": "step", "lr_decay": 0.5, "lr_decay_every": 5,
                  "warmup_steps": 0, "weight_decay": 0.0, "ema_decay": 0.0},
}


def torch_child(corpus, minutes, seed, settings=None, max_steps=None, recipe="charlstm"):
    """The same training in PyTorch (runs in its own process). settings: TrainConfig fields
    to change (scripts/bench.py's end-to-end timing uses them, with max_steps); recipe: a
    key of RECIPES, whose fields apply on top."""
    cfg = TrainConfig(**{**(settings or {}), **RECIPES[recipe]})
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

    best = [math.inf, None]                            # the lowest slice loss, and those weights
    # charlstm's weight average (optim.WeightAverage): every 4 steps, avg = d avg + (1 - d) w.
    average = [q.detach().clone() for q in params] if cfg.ema_decay > 0 else None

    def keep_best():
        """Score the slice, and keep the weights where it is lowest: charlstm's best.npz."""
        v = evaluate(val_slice)
        if v < best[0]:
            best[:] = v, [copy.deepcopy(m.state_dict()) for m in modules]

    t0 = time.perf_counter()
    deadline = t0 + 60 * minutes
    step = batch = epoch = 0
    state, lr = None, cfg.lr
    while (time.perf_counter() < deadline) if max_steps is None else (step < max_steps):
        if batch == 0:
            state = None
        progress = ((time.perf_counter() - t0) / (60 * minutes) if max_steps is None
                    else step / max_steps)
        lr = learning_rate(cfg.lr, step, schedule=cfg.lr_schedule, epoch=epoch,
                           decay=cfg.lr_decay, decay_every=cfg.lr_decay_every,
                           warmup=cfg.warmup_steps, min_lr=cfg.min_lr, progress=progress)
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
        if average is not None and step % 4 == 0:
            d = min(cfg.ema_decay ** 4, (1 + step) / (10 + step))
            with torch.no_grad():
                for a, q in zip(average, params):
                    a.lerp_(q, 1 - d)
        if batch == len(train_b):
            batch, epoch = 0, epoch + 1
        if step % cfg.eval_every == 0:
            keep_best()                                # the same periodic cost as charlstm
    elapsed = time.perf_counter() - t0
    keep_best()                                        # charlstm's run ends with an evaluation too
    last = evaluate(val_full)
    ema_full = None
    if average is not None:
        with torch.no_grad():
            for q, a in zip(params, average):
                q.copy_(a)
        ema_full = evaluate(val_full)
    if best[1] is not None:                            # None: every evaluation was NaN
        for m, weights in zip(modules, best[1]):
            m.load_state_dict(weights)
    return {"val_full": last, "best_full": evaluate(val_full) if best[1] is not None else None,
            "ema_full": ema_full,
            "steps": step,
            "chars": step * N_train * T, "chars_per_s": step * N_train * T / elapsed,
            "last_lr": lr, "shape": {k: getattr(cfg, k) for k in SHAPE}}


def run_torch(corpus, minutes, seed, recipe="charlstm", shape=None):
    """shape: charlstm's run's size and dropout (run_charlstm), which PyTorch is given."""
    child = json.dumps([str(corpus), minutes, seed, shape, None, recipe])
    out = subprocess.run([sys.executable, __file__, "--child", child],
                         check=True, cwd=ROOT, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def verdict(ours, theirs):
    """charlstm's runs against one PyTorch recipe's: the margin between the medians (> 0:
    charlstm lower), the spread (the widest range of one side's runs) and what they say."""
    margin = statistics.median(theirs) - statistics.median(ours)
    spread = max(max(ours) - min(ours), max(theirs) - min(theirs))
    if len(ours) < 2 or len(theirs) < 2:
        word = "one run each: no spread to compare with (use --repeats 2 or more)"
    elif abs(margin) > spread:
        word = "charlstm ahead" if margin > 0 else "PyTorch ahead"
    else:
        word = "level (the margin is within the spread)"
    return margin, spread, word


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", help="repeatable [default: data/tinyshakespeare.txt and python-docs]")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=1, help="runs of each side, alternated")
    ap.add_argument("--first-seed", type=int, default=0,
                    help="the seed of the first repeat; repeat r runs seed first-seed + r [default: 0]")
    ap.add_argument("--torch-recipe", action="append", choices=list(RECIPES),
                    help="repeatable [default: both, charlstm then torch-rnn]")
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
    recipes = args.torch_recipe or list(RECIPES)
    if torch is None:
        print("torch is not installed: the PyTorch side is skipped (pip install torch==2.13.0)",
              file=sys.stderr)
        recipes = []
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    results = []
    for corpus in corpora:
        for r in range(args.first_seed, args.first_seed + args.repeats):
            work = args.out / stamp / f"{Path(corpus).stem}-{r}"
            ours = run_charlstm(corpus, args.minutes, work, seed=r)
            entry = {"corpus": corpus, "repeat": r - args.first_seed, "seed": r,
                     "minutes": args.minutes, "charlstm": ours,
                     "torch": {rec: run_torch(corpus, args.minutes, r, rec, ours["shape"])
                               for rec in recipes}}
            results.append(entry)
            print(json.dumps(entry), file=sys.stderr, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"quality-{stamp}.json"
    path.write_text(json.dumps({"date": stamp, "torch": getattr(torch, "__version__", None),
                                "recipes": {k: RECIPES[k] for k in recipes},
                                "results": results}, indent=1))
    print(table(corpora, recipes, results, args.minutes))
    print(f"\nwrote {path}")


def table(corpora, recipes, results, minutes):
    """Markdown: a row per corpus and side (median, and range over the repeats), then the
    verdict of charlstm against each PyTorch recipe."""
    def runs(rs, rec):
        return [e["charlstm"] if rec is None else e["torch"][rec] for e in rs]

    def fmt(vals, f):
        s = f.format(statistics.median(vals))
        return s + (f" ({f.format(min(vals))}-{f.format(max(vals))})" if len(vals) > 1 else "")

    lines = ["| corpus | minutes | side | val loss (nats/char), last weights | the weights of the "
             "lowest slice (best.npz) | averaged (ema.npz) | steps | chars/s |",
             "|---|---|---|---|---|---|---|---|"]
    verdicts = []
    for corpus in corpora:
        rs = [e for e in results if e["corpus"] == corpus]
        name = Path(corpus).stem
        for rec in [None, *recipes]:
            side = "charlstm" if rec is None else f"torch, {rec} recipe"
            got = runs(rs, rec)
            bests = [g["best_full"] for g in got if g.get("best_full") is not None]
            emas = [g["ema_full"] for g in got if g.get("ema_full") is not None]
            lines.append(f"| {name} | {minutes:g} | {side} | {fmt([g['val_full'] for g in got], '{:.4f}')} | "
                         f"{fmt(bests, '{:.4f}') if bests else '-'} | "
                         f"{fmt(emas, '{:.4f}') if emas else '-'} | "
                         f"{fmt([g['steps'] for g in got], '{:,.0f}')} | "
                         f"{fmt([g['chars_per_s'] for g in got], '{:,.0f}')} |")
        shapes = sorted({f"{g['shape']['hidden_size']} wide, dropout {g['shape']['dropout']:g}"
                         for g in runs(rs, None) if g.get("shape")})
        if shapes:
            verdicts.append(f"{name}: charlstm's runs were {' / '.join(shapes)} (chosen for the "
                            "budget, or the defaults); the PyTorch runs were given the same")
        for rec in recipes:
            for key, what in (("val_full", "last weights"), ("best_full", "best kept"),
                              ("ema_full", "averaged")):
                ours = [g.get(key) for g in runs(rs, None)]
                theirs = [g.get(key) for g in runs(rs, rec)]
                if None in ours or None in theirs:
                    continue
                margin, spread, word = verdict(ours, theirs)
                verdicts.append(f"{name}, {what}, against the {rec} recipe: margin {margin:+.4f} "
                                f"between the medians, spread {spread:.4f}: {word}")
    return "\n".join(lines + [""] + verdicts)


if __name__ == "__main__":
    main()
