"""charlstm vs PyTorch on the CPU: training throughput, efficiency, sampling, memory.

    python scripts/bench.py            # about 1.5-2 minutes on 2 cores
    python scripts/bench.py --quick    # fewer repetitions, for a smoke test
    python scripts/bench.py --e2e      # also `charlstm train` end to end, on Tiny Shakespeare
    python scripts/bench.py --scaling  # chars/s against H and N instead -> docs/scaling.png
    python scripts/bench.py --native-blas   # every child without OPENBLAS_CORETYPE's pin
    python scripts/bench.py --kernels numpy # charlstm's NumPy LSTM loops even with numba here

Prints a Markdown table and writes the figures as JSON to runs/bench/bench-<time>.json.
Without torch installed, charlstm's figures are printed alone. Each timing runs in a
fresh process, the two implementations alternate, and medians are taken, so machine
drift affects both alike and neither's thread pool disturbs the other's.

The BLAS: the header and the JSON name NumPy's BLAS library, the kernel it runs
(threadpoolctl's ``architecture``: OpenBLAS picks it for the CPU at start-up) and its
thread count, as a child process sees them. ``OPENBLAS_CORETYPE`` in the environment
pins OpenBLAS to the kernel it names whatever the CPU; when that kernel is not the one
OpenBLAS picks for this CPU on its own (found by asking a child process started without
the pin), the script says so in one line. ``--native-blas`` starts every child (the
timings, the matmul peak, the memory and end-to-end runs) without ``OPENBLAS_CORETYPE``
and ``OPENBLAS_L2_SIZE``: the kernel a user's machine runs. The parent process, which
only starts children and prints, keeps its environment. The same line names charlstm's
LSTM steps: compiled (``charlstm.fused``, when numba is installed) or NumPy's loops.

--e2e times whole training commands: `charlstm train CORPUS --max-steps K` against a
PyTorch script that does the same work (scripts/quality.py's PyTorch side: the corpus,
char-rnn batches, the same model and optimizer), periodic evaluation off, each at K = 4
steps and at K = 4 + k, with k chosen from the in-process step time so that the k steps
take about E2E_SECONDS (at least 12 steps); the difference of the two wall times over k
steps cancels start-up (imports, reading the corpus, the final validation pass), leaving
the cost of a step as the command line pays it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from charlstm.model import CharLSTM, ModelConfig, auto_threads  # noqa: E402
from charlstm.optim import Adam, clip_grads, take_step  # noqa: E402
from charlstm.train import TrainConfig  # noqa: E402
from scripts.blas_probe import blas_info, lstm_kernels, matmul_peak  # noqa: E402,F401

try:
    import torch
except ImportError:                                    # charlstm's figures alone
    torch = None

V, E = 65, 64
_d = TrainConfig()

PIN_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")   # what --native-blas removes
CHILD_ENV = None                                       # every child's environment (None: ours)
CONFIGS = {
    "small": dict(H=128, L=2, N=50, T=50),
    "large": dict(H=512, L=2, N=50, T=50),
    "default": dict(H=_d.hidden_size, L=_d.num_layers, N=_d.batch_size, T=_d.seq_len,
                    dropout=_d.dropout, embed_dropout=_d.embed_dropout),
}


def step_flops(H, L, N, T, dropout=0.0, cell="lstm", embed_dropout=None):
    """Multiply-adds x 2 of one training step, counting the matrix products only.

    Per layer with input size D and G gate blocks (4 for the LSTM, 3 for the GRU):
    forward x Wx and h Wh is 2 N T (D + H) G H; the backward does twice that (gradients
    of the inputs and of the weights). The output layer adds 3 * 2 N T H V.
    Elementwise work is O(N T H) and left out. This is the model's count, the same for
    both implementations; charlstm does less where it looks layer 0's input projection up
    (``layers.Embedded``), so its GFLOP/s are "equivalent" ones.
    """
    G = {"lstm": 4, "gru": 3}[cell]
    total = 0
    for l in range(L):
        D = E if l == 0 else H
        total += 3 * 2 * N * T * (D + H) * G * H
    return total + 3 * 2 * N * T * H * V


# --------------------------------------------------------------------------- the two jobs

def numpy_job(H, L, N, T, dropout=0.0, cell="lstm", threads=0, embed_dropout=None):
    """One charlstm training step; threads as `charlstm train --threads` (0: auto);
    embed_dropout None: as dropout."""
    m = CharLSTM(ModelConfig(vocab_size=V, hidden_size=H, num_layers=L, embed_size=E,
                             dropout=dropout, embed_dropout=embed_dropout, cell=cell),
                 seed=0, threads=threads)
    opt = Adam(m.params)
    rng = np.random.default_rng(0)
    data = rng.integers(0, V, (N, T + 1))
    x, y = data[:, :-1], data[:, 1:]
    state = [m.init_state(N)]

    def step():
        loss, grads, state[0] = m.loss_and_grads(x, y, state[0])
        clip_grads(grads, 5.0)
        take_step(opt, m.params, grads, 2e-3, 0.0)     # the trainer's update (no weight decay)
    return step


def torch_job(H, L, N, T, dropout=0.0, cell="lstm", threads=0, embed_dropout=None):
    """The same job in PyTorch; dropout as in charlstm: on the embedding (embed_dropout,
    None: as dropout), between layers and before the output. (threads is charlstm's;
    PyTorch uses one thread per core.)"""
    torch.manual_seed(0)
    emb = torch.nn.Embedding(V, E)
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    lstm = rnn(E, H, L, batch_first=True, dropout=dropout if L > 1 else 0.0)
    drop = torch.nn.Dropout(dropout)
    drop_in = torch.nn.Dropout(ModelConfig(vocab_size=V, dropout=dropout,
                                           embed_dropout=embed_dropout).input_dropout)
    lin = torch.nn.Linear(H, V)
    params = [*emb.parameters(), *lstm.parameters(), *lin.parameters()]
    opt = torch.optim.Adam(params, lr=2e-3)
    data = torch.randint(0, V, (N, T + 1))
    x, y = data[:, :-1], data[:, 1:]
    state = [None]

    def step():
        out, new = lstm(drop_in(emb(x)), state[0])
        loss = torch.nn.functional.cross_entropy(lin(drop(out)).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        state[0] = (new.detach() if isinstance(new, torch.Tensor)  # truncated BPTT: carry,
                    else tuple(s.detach() for s in new))          # detached
    return step


def time_calls(f, reps: int, warmup: int = 2) -> list:
    """Seconds per call of f, after warm-up calls."""
    for _ in range(warmup):
        f()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return times


def child_times(kind: str, job: str, cfg: dict, reps: int) -> list:
    """Run one timing in a fresh process (see ``--child``) and return its times."""
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps([kind, job, cfg, reps])],
                         capture_output=True, text=True, check=True, cwd=ROOT,
                         env=CHILD_ENV).stdout
    return json.loads(out.splitlines()[-1])


def time_alternating(kind: str, jobs: list, cfg: dict, rounds: int, reps: int) -> dict:
    """Median seconds per call of each job. Every timing runs in its own process (two
    BLAS/OpenMP thread pools in one process spin against each other), and the processes
    alternate, job A, job B, job A, ..., so drift of the machine affects both alike."""
    times = {j: [] for j in jobs}
    for _ in range(rounds):
        for j in jobs:
            times[j] += child_times(kind, j, cfg, reps)
    return {j: float(np.median(v)) for j, v in times.items()}


def run_child(spec: str):
    kind, job, cfg, reps = json.loads(spec)
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
    if kind == "train":
        f = (numpy_job if job == "charlstm" else torch_job)(**cfg)
        times = time_calls(f, reps)
    else:                                              # sampling: cfg = {H, L, n}
        n = cfg.pop("n")
        run = (numpy_sampler if job == "charlstm" else torch_sampler)(**cfg)
        times = [t / n for t in time_calls(lambda: run(n), reps, warmup=1)]
    print(json.dumps(times))




# --------------------------------------------------------------------------- the BLAS

def native_env(env=None) -> dict:
    """``env`` (default: ours) without the variables that pin OpenBLAS (PIN_VARS)."""
    env = dict(os.environ if env is None else env)
    for k in PIN_VARS:
        env.pop(k, None)
    return env


def child_blas(env=None, peak=False) -> dict:
    """``blas_probe.probe()`` as a fresh process with environment ``env`` sees it (None:
    ours): the BLAS, its kernel and threads, charlstm's LSTM steps, and with ``peak`` the
    float32 matmul peak in FLOP/s as well. (A script of its own: no torch to import.)"""
    cmd = [sys.executable, str(ROOT / "scripts" / "blas_probe.py")] + (["--peak"] if peak else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT, env=env).stdout
    return json.loads(out.splitlines()[-1])


def pin_note(coretype, library, pinned, native) -> str | None:
    """The one-line warning when OPENBLAS_CORETYPE=``coretype`` makes OpenBLAS run the
    ``pinned`` kernel where it picks ``native`` for this CPU without the pin; None when
    there is no pin, the BLAS is not OpenBLAS, or the pin changes nothing."""
    if not coretype or library != "openblas" or not pinned or not native:
        return None
    if pinned.lower() == native.lower():
        return None
    return (f"note: OPENBLAS_CORETYPE={coretype} pins NumPy's OpenBLAS to its {pinned} kernels, "
            f"where this CPU runs {native} without the pin (as a user's machine does): "
            f"figures for users need --native-blas "
            f"(or env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python scripts/bench.py)")


# --------------------------------------------------------------------------- sampling

def numpy_sampler(H, L):
    from charlstm.data import Vocab
    from charlstm.sample import iter_sample
    m = CharLSTM(ModelConfig(vocab_size=V, hidden_size=H, num_layers=L, embed_size=E), seed=0)
    vocab = Vocab("".join(chr(33 + i) for i in range(V - 1)) + "\n")

    def run(n):
        for _ in iter_sample(m, vocab, n, rng=np.random.default_rng(0)):
            pass
    return run


def torch_sampler(H, L):
    emb, lstm, lin = torch.nn.Embedding(V, E), torch.nn.LSTM(E, H, L, batch_first=True), torch.nn.Linear(H, V)

    def run(n):
        with torch.no_grad():
            x, state = torch.tensor([[0]]), None
            for _ in range(n):                         # one character per call, state carried
                out, state = lstm(emb(x), state)
                p = torch.softmax(lin(out[:, -1]), -1)
                x = torch.multinomial(p, 1)
    return run


# --------------------------------------------------------------------------- memory

MEMORY_CHILD = """
import sys; sys.path.insert(0, {root!r})
import scripts.bench as b
def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
step = getattr(b, {job!r})(**{cfg!r})
base = status('VmRSS:')
for _ in range(3):
    step()
print(base, status('VmHWM:'))
"""


def peak_memory(job: str, cfg: dict) -> tuple[int, int]:
    """(RSS before the first step, peak RSS) of a fresh process running 3 training steps."""
    code = MEMORY_CHILD.format(root=str(ROOT), job=job, cfg=cfg)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=CHILD_ENV).stdout.split()
    return int(out[0]), int(out[1])


# --------------------------------------------------------------------------- end to end

E2E_SHORT = 4                                          # steps of the short run
E2E_SECONDS = 8.0                                      # what the extra steps of the long run should take


def e2e_extra_steps(seconds_per_step: float) -> int:
    """Steps the long run adds to the short one: about E2E_SECONDS of work, at least 12,
    so that start-up noise (a few tenths of a second) is small beside their time."""
    return max(12, int(np.ceil(E2E_SECONDS / seconds_per_step)))


def e2e_seconds(job: str, cfg: dict, corpus: str, steps: int) -> float:
    """Wall seconds of one whole training command of ``steps`` steps, in a fresh process."""
    settings = {"hidden_size": cfg["H"], "num_layers": cfg["L"], "batch_size": cfg["N"],
                "seq_len": cfg["T"], "dropout": cfg.get("dropout", 0.0), "embed_size": E,
                "eval_every": 10**9, "checkpoint_every": 10**9, "sample_chars": 0}
    if cfg.get("embed_dropout") is not None:
        settings["embed_dropout"] = cfg["embed_dropout"]
    if job == "charlstm":
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()
                 if k != "num_layers"] + [f"--layers={cfg['L']}", f"--threads={cfg.get('threads', 0)}"]
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "charlstm", "train", corpus, "--max-steps", str(steps),
                   "--run-dir", tmp, "--overwrite", "--quiet", *flags]
            t = time.perf_counter()
            subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, env=CHILD_ENV)
            return time.perf_counter() - t
    cmd = [sys.executable, str(ROOT / "scripts" / "quality.py"), "--child",
           json.dumps([corpus, 0, 0, settings, steps])]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, env=CHILD_ENV)
    return time.perf_counter() - t


def time_e2e(jobs: list, cfg: dict, corpus: str, rounds: int, extra: int) -> dict:
    """Seconds per step of each job as the command pays it: the median over rounds of
    (time of an (E2E_SHORT + extra)-step run - time of an E2E_SHORT-step run) / extra,
    the jobs alternating."""
    per_step = {j: [] for j in jobs}
    short, long = E2E_SHORT, E2E_SHORT + extra
    for _ in range(rounds):
        for j in jobs:
            t_long = e2e_seconds(j, cfg, corpus, long)
            t_short = e2e_seconds(j, cfg, corpus, short)
            per_step[j].append((t_long - t_short) / (long - short))
    return {j: float(np.median(v)) for j, v in per_step.items()}


# --------------------------------------------------------------------------- scaling

SCALING_H = [64, 128, 256, 512, 1024]
SCALING_N = [1, 8, 32, 128]


def scaling(jobs: list, peak: float, rounds: int, reps: int, out: Path, quick=False) -> dict:
    """chars/s for H in SCALING_H (L=2, N=50, T=50) and N in SCALING_N (H=256), each
    implementation in fresh processes, alternating; drawn to ``out``."""
    hs, ns = (SCALING_H[:2], SCALING_N[:2]) if quick else (SCALING_H, SCALING_N)
    series = {"H": [], "N": []}
    for axis, values in (("H", hs), ("N", ns)):
        for v in values:
            c = dict(H=v, L=2, N=50, T=50) if axis == "H" else dict(H=256, L=2, N=v, T=50)
            r = max(1, reps if c["H"] * c["N"] < 512 * 50 else reps // 2)
            t = time_alternating("train", jobs, c, rounds, r)
            chars = c["N"] * c["T"]
            row = {"config": c, axis: v, "peak_chars_per_s": peak * chars / step_flops(**c),
                   **{f"{j}_chars_per_s": chars / t[j] for j in jobs}}
            series[axis].append(row)
            print(f"  scaling {axis}={v}: " + ", ".join(
                f"{j} {row[f'{j}_chars_per_s']:,.0f}" for j in jobs) + " chars/s", file=sys.stderr)
    draw_scaling(series, jobs, peak, out)
    return series


def draw_scaling(series: dict, jobs: list, peak: float, out: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    style = {"charlstm": dict(color="C0", marker="o"), "torch": dict(color="C3", marker="s")}
    for ax, axis, label in ((axes[0], "H", "hidden size H (L=2, N=50, T=50)"),
                            (axes[1], "N", "batch size N (H=256, L=2, T=50)")):
        rows = series[axis]
        xs = [r[axis] for r in rows]
        for j in jobs:
            ax.plot(xs, [r[f"{j}_chars_per_s"] for r in rows], label=j, **style[j])
        ax.plot(xs, [r["peak_chars_per_s"] for r in rows], "k--", lw=1,
                label=f"all matrix products at {peak / 1e9:.0f} GFLOP/s")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel(label)
        ax.set_ylabel("training chars/s")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("charlstm vs PyTorch CPU LSTM, training throughput", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions per config")
    ap.add_argument("--e2e", action="store_true", help="also time `charlstm train` end to end")
    ap.add_argument("--corpus", default=str(ROOT / "data" / "tinyshakespeare.txt"),
                    help="the corpus of the end-to-end timing [default: data/tinyshakespeare.txt]")
    ap.add_argument("--scaling", action="store_true", help="chars/s against H and N, drawn to --figure")
    ap.add_argument("--figure", type=Path, default=ROOT / "docs" / "scaling.png")
    ap.add_argument("--threads", type=int, default=0,
                    help="charlstm's threads, as `charlstm train --threads` [default: 0, auto]")
    ap.add_argument("--native-blas", action="store_true",
                    help="run every child process without OPENBLAS_CORETYPE and "
                         "OPENBLAS_L2_SIZE: the BLAS kernel OpenBLAS picks for this CPU")
    ap.add_argument("--kernels", choices=["auto", "numpy"], default="auto",
                    help="charlstm's LSTM steps: auto = the compiled ones if numba (the [fast] "
                         "extra) is installed; numpy = layers.py's NumPy loops (CHARLSTM_KERNELS=numpy)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return run_child(args.child)
    reps, rounds = (2, 1) if args.quick else (args.reps or 4, 3)
    jobs = ["charlstm"] + (["torch"] if torch is not None else [])
    global CHILD_ENV
    CHILD_ENV = native_env() if args.native_blas else None
    if args.kernels == "numpy":
        CHILD_ENV = dict(CHILD_ENV or os.environ, CHARLSTM_KERNELS="numpy")
    blas = child_blas(CHILD_ENV, peak=True)            # the BLAS every timed child runs
    peak = blas.pop("matmul_peak")
    blas["pin"] = (CHILD_ENV or os.environ).get("OPENBLAS_CORETYPE")
    note = None
    if blas["pin"]:
        note = pin_note(blas["pin"], blas["library"], blas["architecture"],
                        child_blas(native_env())["architecture"])
    if note:
        print(note, file=sys.stderr)
    result = {"date": datetime.now().isoformat(timespec="seconds"), "machine": platform.processor()
              or platform.machine(), "cores": os.cpu_count(), "numpy": np.__version__,
              "torch": torch.__version__ if torch else None,
              "charlstm_threads": args.threads or "auto", "blas": blas, "pin_note": note,
              "train": {}}
    result["matmul_peak_gflops"] = peak / 1e9
    if args.scaling:
        return report_scaling(result, scaling(jobs, peak, rounds, reps, args.figure, args.quick),
                              jobs, args)
    if args.e2e and not Path(args.corpus).exists():
        sys.exit(f"error: corpus {args.corpus} not found; `charlstm download tinyshakespeare` "
                 "fetches data/tinyshakespeare.txt, or pass --corpus FILE")

    rows = []
    for name, c in [(n, c) for n, c in CONFIGS.items()] + [
            (f"{n} gru", dict(c, cell="gru")) for n, c in CONFIGS.items()]:
        t = time_alternating("train", jobs, dict(c, threads=args.threads), rounds, reps)
        chars = c["N"] * c["T"]
        flops = step_flops(**c)
        r = {"config": c, "flops_per_step": flops,
             "charlstm_threads": args.threads or auto_threads(c["H"], c["N"]),
             "charlstm_chars_per_s": chars / t["charlstm"],
             "charlstm_gflops": flops / t["charlstm"] / 1e9,
             "charlstm_pct_of_peak": 100 * flops / t["charlstm"] / peak}
        if torch is not None:
            r["torch_chars_per_s"] = chars / t["torch"]
            r["ratio"] = t["torch"] / t["charlstm"]
        if args.e2e and "gru" not in name:
            extra = e2e_extra_steps(min(t.values()))
            e = time_e2e(jobs, dict(c, threads=args.threads), args.corpus, 1 if args.quick else 2, extra)
            r["e2e_steps"] = [E2E_SHORT, E2E_SHORT + extra]
            r["e2e_charlstm_chars_per_s"] = chars / e["charlstm"]
            if torch is not None:
                r["e2e_torch_chars_per_s"] = chars / e["torch"]
                r["e2e_ratio"] = e["torch"] / e["charlstm"]
        result["train"][name] = r
        rows.append((name, c, r))
        print(f"  {name}: done", file=sys.stderr)

    H, L = CONFIGS["large"]["H"], CONFIGS["large"]["L"]
    n = 100 if args.quick else 300
    ts = time_alternating("sample", jobs, {"H": H, "L": L, "n": n}, rounds, 2 if args.quick else 3)
    result["sample"] = {k: 1 / v for k, v in ts.items()}

    mem = {"charlstm": peak_memory("numpy_job", CONFIGS["large"])}
    if torch is not None:
        mem["torch"] = peak_memory("torch_job", CONFIGS["large"])
    result["memory"] = {k: {"before_steps": a, "peak": b} for k, (a, b) in mem.items()}

    # ------------------------------------------------------------------ report
    print(f"\ncharlstm benchmark, {result['date']}, {result['cores']} cores, numpy "
          f"{result['numpy']}, torch {result['torch'] or 'not installed'}; charlstm threads "
          f"{result['charlstm_threads']}; float32 matmul peak (2048^3) {peak / 1e9:.0f} GFLOP/s")
    print(blas_line(result["blas"]) + "\n")
    print("| config | cell | H | L | N | T | dropout | charlstm threads | charlstm chars/s | torch chars/s | ratio | charlstm GFLOP/s | % of matmul peak |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, c, r in rows:
        tc = f"{r['torch_chars_per_s']:,.0f}" if "torch_chars_per_s" in r else "-"
        ratio = f"{r['ratio']:.2f}x" if "ratio" in r else "-"
        print(f"| {name.split()[0]} | {c.get('cell', 'lstm')} | {c['H']} | {c['L']} | {c['N']} | {c['T']} | {c.get('dropout', 0.0):g} "
              f"| {r['charlstm_threads']} | {r['charlstm_chars_per_s']:,.0f} "
              f"| {tc} | {ratio} | {r['charlstm_gflops']:.0f} | {r['charlstm_pct_of_peak']:.0f}% |")
    if args.e2e:
        print("\nend to end (`charlstm train --max-steps`, start-up cancelled by differencing "
              f"a short and a long run on {Path(args.corpus).name}):\n")
        print("| config | steps differenced | charlstm chars/s | torch chars/s | ratio | charlstm in-process chars/s |")
        print("|---|---|---|---|---|---|")
        for name, c, r in rows:
            if "e2e_charlstm_chars_per_s" in r:
                tc = f"{r['e2e_torch_chars_per_s']:,.0f}" if "e2e_torch_chars_per_s" in r else "-"
                ratio = f"{r['e2e_ratio']:.2f}x" if "e2e_ratio" in r else "-"
                a, b = r["e2e_steps"]
                print(f"| {name} | {b} - {a} | {r['e2e_charlstm_chars_per_s']:,.0f} | {tc} | {ratio} "
                      f"| {r['charlstm_chars_per_s']:,.0f} |")
    s = result["sample"]
    ratio = f" ({s['charlstm'] / s['torch']:.1f}x)" if "torch" in s else ""
    print(f"\nsampling, large model, one stream: charlstm {s['charlstm']:,.0f} chars/s"
          + (f", torch {s['torch']:,.0f} chars/s{ratio}" if "torch" in s else ""))
    for k, m in result["memory"].items():
        print(f"peak memory, large config, {k}: {m['peak'] / 2**20:,.0f} MiB resident "
              f"({(m['peak'] - m['before_steps']) / 2**20:,.0f} MiB above the model before training)")
    print("\nFLOPs per step = sum over layers of 3 * 2*N*T*(D+H)*G*H  +  3 * 2*N*T*H*V "
          "(forward, and twice that backward; D = E for layer 0, H after; G = 4 LSTM, 3 GRU)")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {path}")


def blas_line(b: dict) -> str:
    """The header's BLAS line, from ``result["blas"]``."""
    pin = (f"pinned by OPENBLAS_CORETYPE={b['pin']}" if b.get("pin") else
           "the kernel it picks for this CPU (no OPENBLAS_CORETYPE)")
    return (f"BLAS: {b['library']} {b.get('version') or ''}, {b.get('architecture') or '?'} "
            f"kernels, {b.get('num_threads')} threads; {pin}. charlstm's LSTM steps: "
            f"{b.get('lstm_kernels', '?')}")


def report_scaling(result, series, jobs, args):
    result["scaling"] = series
    print(f"\nscaling, {result['date']}, {result['cores']} cores; float32 matmul peak "
          f"{result['matmul_peak_gflops']:.0f} GFLOP/s; training chars/s")
    print(blas_line(result["blas"]) + "\n")
    print("| config | charlstm | torch | ratio | matrix products at peak |")
    print("|---|---|---|---|---|")
    for axis in ("H", "N"):
        for r in series[axis]:
            c = r["config"]
            tc = f"{r['torch_chars_per_s']:,.0f}" if "torch_chars_per_s" in r else "-"
            ratio = (f"{r['charlstm_chars_per_s'] / r['torch_chars_per_s']:.2f}x"
                     if "torch_chars_per_s" in r else "-")
            print(f"| H={c['H']} N={c['N']} | {r['charlstm_chars_per_s']:,.0f} | {tc} | {ratio} "
                  f"| {r['peak_chars_per_s']:,.0f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"scaling-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {path} and {args.figure}")


if __name__ == "__main__":
    main()
