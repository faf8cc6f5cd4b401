"""The figures behind check_gradients' threshold: errors of right and of wrong gradients.

    python scripts/gradient_threshold.py          # about two minutes on 2 cores

Runs charlstm.check_gradients (40 samples per parameter) on the learner-style
implementations of tests/test_check_gradients.py, right and with the classic mistakes,
over sizes, sequence lengths and weight scales, and prints for each group the largest
error of a right gradient (which the threshold must clear) and the smallest error among
the failing parameters of a wrong one (which it must stay under). For comparison it also
prints the plain element-wise error |a - n| / (|a| + |n|) of the right gradients, the
measure the check does not use. docs/check-gradients.md quotes these figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import charlstm                                                      # noqa: E402
from test_check_gradients import ClassLSTM, StepLSTM, WildRNN, minchar, step_lstm   # noqa: E402


def class_lstm(H, V, T, scale, seed, mistake=None):
    m = ClassLSTM(vocab=V, hidden=H, seed=seed, mistake=mistake, scale=scale)
    rng = np.random.default_rng(seed + 7)
    x, y = list(rng.integers(0, V, T)), list(rng.integers(0, V, T))
    params = {n: getattr(m, n) for n in m.names}
    loss = lambda x, y: -np.sum(np.log(m.forward_propagation(x)[0][np.arange(len(y)), y]))
    grads = lambda x, y: dict(zip(m.names, m.backward_propagation(x, y)))
    return charlstm.check_gradients(params, loss, grads, sequence=(x, y), seed=seed)


def wild_rnn(V, H, T, seed):
    m = WildRNN(V, H, 1000, seed)
    rng = np.random.default_rng(seed + 1)
    x, y = list(rng.integers(0, V, T)), list(rng.integers(0, V, T))
    return charlstm.check_gradients({"U": m.U, "V": m.V, "W": m.W},
                                    lambda x, y: m.calculate_total_loss([x], [y]),
                                    lambda x, y: dict(zip("UVW", m.bptt(x, y))),
                                    sequence=(x, y), seed=seed)


def dls2_sequence(D, H, N, T, seed, mistake=None, dtype=np.float64, scale=1.0):
    """T step layers sharing Wx, Wh, b (as DLS2's TimeLSTM does); loss sum_t h_t * dh_t."""
    layer = step_lstm(D, H, seed, dtype, mistake)
    for p in layer.params:
        p *= scale
    Wx, Wh, b = layer.params
    rng = np.random.default_rng(seed + 2)
    xs = rng.standard_normal((T, N, D)).astype(dtype)
    dhs = rng.standard_normal((T, N, H)).astype(dtype)

    def run(xs, dhs):
        steps = [StepLSTM(Wx, Wh, b, mistake) for _ in xs]
        h = c = np.zeros((N, H), dtype)
        total = 0.0
        for s, x, dh in zip(steps, xs, dhs):
            h, c = s.forward(x, h, c)
            total += np.sum(h * dh)
        return total, steps

    def grads(xs, dhs):
        _, steps = run(xs, dhs)
        dh_next = dc_next = np.zeros((N, H), dtype)
        total = [np.zeros_like(p) for p in (Wx, Wh, b)]
        for s, dh in zip(reversed(steps), dhs[::-1]):
            _, dh_next, dc_next = s.backward(dh + dh_next, dc_next)
            for t, g in zip(total, s.grads):
                t += g
        return dict(zip(["Wx", "Wh", "b"], total))
    return charlstm.check_gradients({"Wx": Wx, "Wh": Wh, "b": b}, lambda xs, dhs: run(xs, dhs)[0],
                                    grads, sequence=(xs, dhs), gate_order="fgio", seed=seed)


def min_char(T, seed):
    ns = minchar()
    rng = np.random.default_rng(seed)
    inputs, targets = list(rng.integers(0, 6, T)), list(rng.integers(0, 6, T))
    names = ["Wxh", "Whh", "Why", "bh", "by"]
    hprev = np.zeros((5, 1))
    return charlstm.check_gradients({n: ns[n] for n in names},
                                    lambda i, t: ns["lossFun"](i, t, hprev)[0],
                                    lambda i, t: dict(zip(names, ns["lossFun"](i, t, hprev)[1:6])),
                                    sequence=(inputs, targets), seed=seed)


def worst(report):
    return max(p.max_rel_error for p in report.parameters)


def elementwise(report):
    out = 0.0
    for p in report.parameters:
        a, n = p.analytic, p.numeric
        d = np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-300)
        out = max(out, float(d.max()))
    return out


def smallest_failing(report):
    return min(p.max_rel_error for p in report.parameters
               if not p.ok and p.max_rel_error is not None)


def line(name, values, what="max"):
    f = max if what == "max" else min
    print(f"  {name:<34} {what} {f(values):.1e}  median {np.median(values):.1e}  ({len(values)} checks)")


def main():
    sizes = [(4, 5, 3), (16, 20, 3), (50, 65, 1)]            # H, V, seeds
    grid = [(H, V, T, sc, s) for H, V, n in sizes for T in (1, 5, 25) for sc in (0.1, 0.5, 1.5)
            for s in range(n)]
    print(f"threshold {charlstm.checker.generic.PRECISION[np.dtype(np.float64)][1]:g} (float64), "
          f"{charlstm.checker.generic.PRECISION[np.dtype(np.float32)][1]:g} (float32)")
    print("right gradients, float64 (largest error of any parameter):")
    reports = [class_lstm(*g) for g in grid]
    line("class LSTM, H 4/16/50, T 1/5/25", [worst(r) for r in reports])
    steep = [r for g, r in zip(grid, reports) if g[0] == 50 and g[2] == 25 and g[3] == 1.5]
    line("  of which H 50, T 25, scale 1.5", [worst(r) for r in steep])
    line("  element-wise |a-n|/(|a|+|n|)", [elementwise(r) for r in reports])
    line("WildML-shaped RNN", [worst(wild_rnn(V, H, T, s)) for V, H in [(6, 4), (30, 20)]
                               for T in (3, 12, 40) for s in range(3)])
    line("DLS2-shaped LSTM over sequences", [worst(dls2_sequence(D, H, N, T, s, scale=sc))
                                             for D, H, N in [(3, 4, 2), (10, 16, 5)]
                                             for T in (1, 4, 12) for s in range(2)
                                             for sc in (0.3, 1, 2)])
    line("min-char-rnn lossFun", [worst(min_char(T, s)) for T in (1, 5, 25) for s in range(3)])
    print("wrong gradients, float64 (smallest error among the failing parameters):")
    small = [(H, V, T, sc, 0) for H, V in [(4, 5), (16, 20)] for T in (5, 25) for sc in (0.1, 0.5, 1.5)]
    for mistake in ["dc_no_tanh", "f_uses_c", "no_dh_next", "no_dc_next", "dV_twice", "dWi_transposed"]:
        line(f"class LSTM, {mistake}", [smallest_failing(class_lstm(*g, mistake)) for g in small], "min")
    print("float32 (DLS2-shaped LSTM over sequences, computed in float32):")
    f32 = [(D, H, N, T, s) for D, H, N in [(3, 4, 2), (10, 16, 5)] for T in (1, 4, 12) for s in range(3)]
    line("right", [worst(dls2_sequence(*g, dtype=np.float32, scale=sc)) for g in f32
                   for sc in (0.3, 1, 2)])
    for mistake in ["gates_g_i_swapped", "dc_prev_not_times_f"]:
        line(f"wrong, {mistake}", [smallest_failing(dls2_sequence(*g, mistake, np.float32, sc))
                                   for g in f32 if g[3] > 1 for sc in (0.3, 1, 2)], "min")
    precision = charlstm.checker.generic.PRECISION
    chosen = precision[np.dtype(np.float32)]
    for step in (1e-3, 3e-3, 3e-2):                        # the other float32 steps tried
        precision[np.dtype(np.float32)] = (step, chosen[1])
        line(f"right, at a step of {step:g}", [worst(dls2_sequence(*g, dtype=np.float32, scale=sc))
                                              for g in f32 for sc in (0.3, 1, 2)])
    precision[np.dtype(np.float32)] = chosen


if __name__ == "__main__":
    main()
