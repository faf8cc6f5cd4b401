"""charlstm.check_gradients on learner-style code of four shapes, right and wrong.

The implementations below are written here, apart from the checker, in the shapes learners
use: a class with separate gate matrices, WildML's RNNNumpy, Deep Learning from Scratch 2's
LSTM layer and min-char-rnn's lossFun. Each has switches for the classic mistakes. The
adapters are not repeated here: they are read from docs/check-gradients.md and run as
printed, so the page stays true.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import charlstm
from charlstm.errors import CharlstmError

DOC = Path(__file__).resolve().parent.parent / "docs" / "check-gradients.md"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# =========================================================================== a class-based LSTM

class ClassLSTM:
    """Separate gate matrices: W* (H, H) on h_{t-1}, U* (H, V) on the one-hot x_t, b* (H,),
    V (V, H) to the scores. One sequence of ids at a time; h and c start at zero."""

    names = ["Wi", "Wf", "Wo", "Wg", "Ui", "Uf", "Uo", "Ug", "bi", "bf", "bo", "bg", "V"]

    def __init__(self, vocab=5, hidden=4, seed=0, mistake=None, scale=0.5):
        rng = np.random.default_rng(seed)
        self.hidden, self.vocab, self.mistake = hidden, vocab, mistake
        for g in "ifog":
            setattr(self, "W" + g, rng.standard_normal((hidden, hidden)) * scale)
            setattr(self, "U" + g, rng.standard_normal((hidden, vocab)) * scale)
            setattr(self, "b" + g, rng.standard_normal(hidden) * scale)
        self.V = rng.standard_normal((vocab, hidden)) * scale

    def forward_propagation(self, x):
        T, H = len(x), self.hidden
        h, c = np.zeros((T + 1, H)), np.zeros((T + 1, H))      # h[t + 1] is h_t, h[0] = 0
        gates = np.zeros((T, 4, H))
        probs = np.zeros((T, self.vocab))
        if self.mistake == "raises":
            return self.Wz
        for t in range(T):
            a = {g: getattr(self, "W" + g) @ h[t] + getattr(self, "U" + g)[:, x[t]]
                 + getattr(self, "b" + g) for g in "ifog"}
            i, f, o, g = sigmoid(a["i"]), sigmoid(a["f"]), sigmoid(a["o"]), np.tanh(a["g"])
            c[t + 1] = f * c[t] + i * g
            h[t + 1] = o * np.tanh(c[t + 1])
            scores = self.V @ h[t + 1]
            e = np.exp(scores - scores.max())
            probs[t] = e / e.sum()
            gates[t] = i, f, o, g
        return probs, (h, c, gates)

    def backward_propagation(self, x, y):
        probs, (h, c, gates) = self.forward_propagation(x)
        m = self.mistake
        d = {n: np.zeros_like(getattr(self, n)) for n in self.names}
        dh_next, dc_next = np.zeros(self.hidden), np.zeros(self.hidden)
        for t in reversed(range(len(x))):
            dy = probs[t].copy()
            dy[y[t]] -= 1                                      # d loss / d scores = p - one_hot(y)
            d["V"] += np.outer(dy, h[t + 1])
            dh = self.V.T @ dy + (0 if m == "no_dh_next" else dh_next)
            i, f, o, g = gates[t]
            tc = np.tanh(c[t + 1])
            dc = dh * o * (1 - (c[t + 1] ** 2 if m == "dc_no_tanh" else tc ** 2))
            if m != "no_dc_next":
                dc = dc + dc_next
            da = {"i": dc * g * i * (1 - i),
                  "f": dc * (c[t + 1] if m == "f_uses_c" else c[t]) * f * (1 - f),
                  "o": dh * tc * o * (1 - o),
                  "g": dc * i * (1 - g ** 2)}
            dh_next = np.zeros(self.hidden)
            for k in "ifog":
                if m == "weights_assigned":
                    d["W" + k] = np.outer(da[k], h[t])
                else:
                    d["W" + k] += np.outer(da[k], h[t])
                d["U" + k][:, x[t]] += da[k]
                d["b" + k] += da[k]
                dh_next += getattr(self, "W" + k).T @ da[k]
            dc_next = dc * f
        if m == "dV_sign":
            d["V"] = -d["V"]
        if m == "dV_twice":
            d["V"] = 2 * d["V"]
        if m == "dV_third":
            d["V"] = d["V"] / 3
        if m == "dV_transposed":
            d["V"] = d["V"].T
        if m == "dWi_transposed":
            d["Wi"] = d["Wi"].T
        if m == "update_inside":
            self.V -= 0.1 * d["V"]
        out = [d[n] for n in self.names]
        if m == "returned_out_of_order":                      # dUi and dUg swapped in the list
            out[4], out[7] = out[7], out[4]
        return out


# =========================================================================== WildML's RNNNumpy shape

class WildRNN:
    """U (H, V) on the one-hot input, W (H, H), V (V, H); bptt(x, y) -> [dLdU, dLdV, dLdW]
    over one sentence, truncated after bptt_truncate steps back."""

    def __init__(self, word_dim=6, hidden_dim=4, bptt_truncate=4, seed=0, mistake=None):
        rng = np.random.default_rng(seed)
        self.word_dim, self.hidden_dim, self.bptt_truncate = word_dim, hidden_dim, bptt_truncate
        self.U = rng.uniform(-1, 1, (hidden_dim, word_dim))
        self.V = rng.uniform(-1, 1, (word_dim, hidden_dim))
        self.W = rng.uniform(-1, 1, (hidden_dim, hidden_dim))
        self.mistake = mistake

    def forward_propagation(self, x):
        T = len(x)
        s = np.zeros((T + 1, self.hidden_dim))                # s[-1] is the zero initial state
        o = np.zeros((T, self.word_dim))
        for t in range(T):
            s[t] = np.tanh(self.U[:, x[t]] + self.W @ s[t - 1])
            z = self.V @ s[t]
            o[t] = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        return [o, s]

    def calculate_total_loss(self, x, y):
        total = 0.0
        for xi, yi in zip(x, y):
            o, _ = self.forward_propagation(xi)
            total -= np.sum(np.log(o[np.arange(len(yi)), yi]))
        return total

    def calculate_loss(self, x, y):
        return self.calculate_total_loss(x, y) / sum(len(yi) for yi in y)

    def bptt(self, x, y):
        o, s = self.forward_propagation(x)
        dU, dV, dW = np.zeros_like(self.U), np.zeros_like(self.V), np.zeros_like(self.W)
        delta_o = o.copy()
        delta_o[np.arange(len(y)), y] -= 1
        for t in reversed(range(len(y))):
            dV += np.outer(delta_o[t], s[t])
            delta = (self.V.T @ delta_o[t]) * (1 - s[t] ** 2)
            for step in reversed(range(max(0, t - self.bptt_truncate), t + 1)):
                dW += np.outer(delta, s[step - 1])
                dU[:, x[step]] += delta
                delta = self.W.T @ delta
                if self.mistake != "no_tanh_prime_in_carry":
                    delta = delta * (1 - s[step - 1] ** 2)
        return [dU, dV, dW]


# =========================================================================== Deep Learning from Scratch 2's LSTM layer shape

class StepLSTM:
    """One LSTM step; Wx (D, 4H), Wh (H, 4H), b (4H,), gates fused in the order f, g, i, o.
    forward(x, h_prev, c_prev) -> h_next, c_next; backward(dh_next, dc_next) -> dx,
    dh_prev, dc_prev, with the weight gradients written into self.grads."""

    def __init__(self, Wx, Wh, b, mistake=None):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None
        self.mistake = mistake

    def forward(self, x, h_prev, c_prev):
        Wx, Wh, b = self.params
        H = h_prev.shape[1]
        A = x @ Wx + h_prev @ Wh + b
        f, g = sigmoid(A[:, :H]), np.tanh(A[:, H:2 * H])
        i, o = sigmoid(A[:, 2 * H:3 * H]), sigmoid(A[:, 3 * H:])
        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)
        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(self, dh_next, dc_next):
        Wx, Wh, b = self.params
        x, h_prev, c_prev, i, f, g, o, c_next = self.cache
        tanh_c = np.tanh(c_next)
        ds = dc_next + dh_next * o * (1 - tanh_c ** 2)
        dc_prev = ds if self.mistake == "dc_prev_not_times_f" else ds * f
        di, df = ds * g * i * (1 - i), ds * c_prev * f * (1 - f)
        do, dg = dh_next * tanh_c * o * (1 - o), ds * i * (1 - g ** 2)
        if self.mistake == "gates_g_i_swapped":
            dA = np.hstack((df, di, dg, do))
        else:
            dA = np.hstack((df, dg, di, do))
        self.grads[0][...] = x.T @ dA
        self.grads[1][...] = h_prev.T @ dA
        self.grads[2][...] = dA.sum(axis=0)
        return dA @ Wx.T, dA @ Wh.T, dc_prev


def step_lstm(D=3, H=4, seed=0, dtype=np.float64, mistake=None):
    rng = np.random.default_rng(seed)
    Wx = (rng.standard_normal((D, 4 * H)) / np.sqrt(D)).astype(dtype)
    Wh = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(dtype)
    return StepLSTM(Wx, Wh, np.zeros(4 * H, dtype), mistake=mistake)


# =========================================================================== min-char-rnn's lossFun shape

# Module-level weights and a lossFun that reads them, as in the gist: executed into a
# namespace that plays the learner's module (or notebook) globals.
MINCHAR = '''
import numpy as np
hidden_size, vocab_size = 5, 6
rng = np.random.default_rng(3)
Wxh = rng.standard_normal((hidden_size, vocab_size)) * 0.3
Whh = rng.standard_normal((hidden_size, hidden_size)) * 0.3
Why = rng.standard_normal((vocab_size, hidden_size)) * 0.3
bh = np.zeros((hidden_size, 1))
by = np.zeros((vocab_size, 1))

def lossFun(inputs, targets, hprev):
    """inputs, targets: lists of ids; hprev (H, 1). -> loss, the gradients, the last h."""
    xs, hs, ps = {}, {-1: np.copy(hprev)}, {}
    loss = 0.0
    for t, (i, j) in enumerate(zip(inputs, targets)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][i] = 1                                       # one-hot column
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        y = Why @ hs[t] + by
        ps[t] = np.exp(y - y.max()) / np.sum(np.exp(y - y.max()))
        loss -= np.log(ps[t][j, 0])
    grads = [np.zeros_like(w) for w in (Wxh, Whh, Why, bh, by)]
    dWxh, dWhh, dWhy, dbh, dby = grads
    dhnext = np.zeros_like(hprev)
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1                                # p - one_hot(target)
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + (0 if MISTAKE == "no_dhnext" else dhnext)
        dhraw = (1 - hs[t] ** 2) * dh                      # through tanh
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
    for g in grads:
        np.clip(g, -CLIP, CLIP, out=g)                     # against exploding gradients
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]
'''


def minchar(mistake=None, clip=5.0):
    ns = {"MISTAKE": mistake, "CLIP": clip}
    exec(MINCHAR, ns)
    return ns


# =========================================================================== running the documented adapters

def adapter(title):
    """The code block of docs/check-gradients.md that starts with '# adapter: <title>'."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if b.startswith(f"# adapter: {title}\n")]
    assert len(found) == 1, f"docs/check-gradients.md has no adapter {title!r}"
    return found[0]


def run_adapter(title, ns):
    """Run the adapter as printed, in ns (the learner's namespace); return its report."""
    ns.update(np=np, charlstm=charlstm)
    exec(compile(adapter(title), str(DOC), "exec"), ns)
    return ns["report"]


def ids(n, vocab, seed):
    return [int(v) for v in np.random.default_rng(seed).integers(0, vocab, n)]


def class_report(mistake=None, T=6, **kw):
    """The documented adapter on a ClassLSTM; every use also checks the arrays come back
    bit for bit, whatever the check found."""
    model = ClassLSTM(mistake=mistake, **kw)
    before = {n: getattr(model, n).tobytes() for n in model.names}
    report = run_adapter("class-based LSTM", {"model": model, "x": ids(T, model.vocab, 1),
                                              "y": ids(T, model.vocab, 2)})
    assert {n: getattr(model, n).tobytes() for n in model.names} == before
    assert isinstance(report.ok, bool) and report.ok == (mistake is None)
    return report


def wrong(report):
    return {p.name for p in report.parameters if not p.ok}


def said(report, *fragments):
    text = str(report)
    missing = [f for f in fragments if f not in text]
    assert not missing, f"{missing} not in the report:\n{text}"


# =========================================================================== class-based LSTM

def test_a_correct_lstm_class_passes_and_its_arrays_are_restored_bit_for_bit():
    model = ClassLSTM()
    model.V[0, 0] = -0.0                                  # the sign of a zero survives too
    before = {n: getattr(model, n).tobytes() for n in model.names}
    report = run_adapter("class-based LSTM", {"model": model, "x": ids(6, 5, 1), "y": ids(6, 5, 2)})
    assert report.ok is True and report.shortest_failing_length is None
    assert all(getattr(model, n).tobytes() == before[n] for n in model.names)
    assert [r.length for r in report.lengths] == [6]
    assert max(p.max_rel_error for p in report.parameters) < 1e-6
    said(report, "-> PASS")


def test_json_has_the_documented_keys_and_describes_the_shortest_failing_prefix():
    report = class_report("no_dc_next")
    d = json.loads(report.to_json())
    assert {"ok", "shortest_failing_length", "parameters"} <= set(d)
    assert d["ok"] is False and d["shortest_failing_length"] == 2 and d["length"] == 2
    assert [p["name"] for p in d["parameters"]] == ClassLSTM.names
    assert all({"name", "ok", "max_rel_error"} <= set(p) for p in d["parameters"])
    assert {p["name"] for p in d["parameters"] if not p["ok"]} == {"Ui", "Ug", "bi", "bg"}
    ok = json.loads(class_report().to_json())
    assert ok["ok"] is True and ok["shortest_failing_length"] is None and ok["length"] == 6


def test_the_example_in_the_docs_is_what_the_report_says():
    report = class_report("no_dc_next")
    doc = DOC.read_text(encoding="utf-8")
    for paragraph in report.findings:
        assert paragraph in doc, paragraph
    for line in str(report).splitlines():
        if line.startswith(("  1 ", "  2 ", "  6 ", "At length", "-> ")):
            assert line in doc, line


def test_a_mistake_inside_one_step_is_found_at_length_1_in_the_gates_that_share_dc():
    report = class_report("dc_no_tanh")            # 1 - c**2 for 1 - tanh(c)**2
    assert report.shortest_failing_length == 1
    assert wrong(report) == {"Ui", "Ug", "bi", "bg"}  # f untested: c_prev = 0 at step 0
    said(report, "inside one step", "Gates: i and g wrong, o right", "f untested",
         "the cell-state gradient they share")


def test_a_mistake_in_one_gate_names_that_gate_and_its_equation():
    report = class_report("f_uses_c")               # c_t where c_{t-1} belongs
    assert report.shortest_failing_length == 1 and wrong(report) == {"Uf", "bf"}
    said(report, "Gates: f wrong, i, o and g right", "da_f = dc * c_prev * f * (1 - f)",
         "so their gradients must be 0")


@pytest.mark.parametrize("mistake, gates_said", [
    ("no_dh_next", "What all the gates share is wrong: dh"),
    ("no_dc_next", "the cell-state gradient they share"),
])
def test_a_mistake_in_the_carry_is_right_at_length_1_and_wrong_from_2(mistake, gates_said):
    report = class_report(mistake)
    assert report.shortest_failing_length == 2
    assert [(r.length, r.ok) for r in report.lengths] == [(1, True), (2, False), (6, False)]
    said(report, "Right for one step, wrong from two steps on: what you carry back from "
                 "step t+1 to step t is wrong", gates_said)


@pytest.mark.parametrize("mistake, bad, words", [
    ("dV_sign", {"V"}, "V: your gradient is minus the right gradient: the sign is flipped"),
    ("dV_twice", {"V"}, "V: your gradient is 2 times the right gradient"),
    ("dV_third", {"V"}, "V: your gradient is 1/3 of the right gradient"),
    ("dV_transposed", {"V"}, "the transpose of the right one (V: shape 4x5, the parameter 5x4)"),
    ("dWi_transposed", {"Wi"}, "Wi is square, so its shape could not tell"),
    ("returned_out_of_order", {"Ui", "Ug"}, "Ui and Ug: your gradients of these two are swapped"),
    ("weights_assigned", {"Wi", "Wf", "Wo", "Wg"}, "your gradients are zero wherever the check looked"),
])
def test_what_a_wrong_gradient_did_is_named(mistake, bad, words):
    report = class_report(mistake)
    assert wrong(report) == bad
    said(report, words)


def test_a_transposed_gradient_is_a_failing_row_not_an_error():
    row = next(p for p in class_report("dV_transposed").parameters if p.name == "V")
    assert row.ok is False and row.max_rel_error is None and row.grad_shape == (4, 5)


# =========================================================================== WildML's RNNNumpy

def wild_ns(mistake=None, T=8, **kw):
    return {"model": WildRNN(mistake=mistake, **kw), "x": ids(T, 6, 3), "y": ids(T, 6, 4)}


def test_wildml_adapter_passes_a_correct_rnn_and_finds_a_carry_mistake_at_length_2():
    assert run_adapter("WildML RNNNumpy", wild_ns()).ok
    report = run_adapter("WildML RNNNumpy", wild_ns("no_tanh_prime_in_carry"))
    assert report.shortest_failing_length == 2 and wrong(report) == {"U"}   # W: s_{-1} = 0
    said(report, "what you carry back from step t+1 to step t is wrong")


def test_wildml_truncated_bptt_is_right_up_to_length_5_and_said_as_truncation():
    ns = wild_ns()
    m = ns["model"]                                     # bptt_truncate = 4, as WildML's default
    report = charlstm.check_gradients({"U": m.U, "V": m.V, "W": m.W},
                                      lambda x, y: m.calculate_loss([x], [y]) * len(y),
                                      lambda x, y: dict(zip("UVW", m.bptt(x, y))),
                                      sequence=(ns["x"], ns["y"]))
    assert report.shortest_failing_length == 6
    assert all(r.ok for r in report.lengths if r.length < 6)
    said(report, "Right for up to 5 steps, wrong from 6 steps on", "truncated after 4 steps back")


def test_wildml_calculate_loss_alone_is_off_by_the_sequence_length():
    ns = wild_ns()
    m = ns["model"]
    m.bptt_truncate = 1000
    report = charlstm.check_gradients({"U": m.U, "V": m.V, "W": m.W},
                                      lambda x, y: m.calculate_loss([x], [y]),
                                      lambda x, y: dict(zip("UVW", m.bptt(x, y))),
                                      sequence=(ns["x"], ns["y"]))
    assert report.shortest_failing_length == 2 and wrong(report) == {"U", "V", "W"}
    said(report, "Every gradient is 2 times the right gradient", "2 is the sequence length: "
         "your loss averages over the steps and your gradient is of the sum",
         "this is no carry mistake")
    assert "what you carry back" not in str(report)


# =========================================================================== Deep Learning from Scratch 2's LSTM

def test_dls2_adapter_passes_a_correct_layer_and_checks_what_it_hands_back():
    layer = step_lstm(dtype=np.float32)                 # float32 as DLS2's default; the adapter converts
    report = run_adapter("Deep Learning from Scratch 2 LSTM", {"layer": layer})
    assert report.ok and report.threshold == 1e-5
    assert {p.name for p in report.parameters} == {"Wx", "Wh", "b", "x", "h_prev", "c_prev"}
    gates = {p["name"]: p.get("gates") for p in json.loads(report.to_json())["parameters"]}
    assert gates["Wx"] == gates["Wh"] == gates["b"] == {"f": True, "g": True, "i": True, "o": True}


def test_dls2_gates_swapped_in_the_backward_are_said_as_such():
    report = run_adapter("Deep Learning from Scratch 2 LSTM",
                         {"layer": step_lstm(mistake="gates_g_i_swapped")})
    assert wrong(report) == {"Wx", "Wh", "b", "x", "h_prev"}
    said(report, "In Wx, Wh and b, the block of gate g (H:2H) holds gate i's; the block of gate "
         "i (2H:3H) holds gate g's: your backward writes the gates in another order",
         "gates wrong: g i; right: f o",
         "Wrong too: x and h_prev; in most code they are computed from the gate gradients")


def test_dls2_dc_prev_not_times_f_shows_in_the_gradient_of_c_prev_only():
    report = run_adapter("Deep Learning from Scratch 2 LSTM",
                         {"layer": step_lstm(mistake="dc_prev_not_times_f")})
    assert wrong(report) == {"c_prev"}
    said(report, "Wrong: c_prev. Right: Wx, Wh, b, x and h_prev")


def dls2_direct(layer, seed=0):
    Wx, Wh, b = layer.params
    rng = np.random.default_rng(seed)
    x, h0, c0 = (rng.standard_normal((2, n)).astype(Wx.dtype) for n in (3, 4, 4))
    dh = rng.standard_normal((2, 4)).astype(Wx.dtype)

    def grads():
        layer.forward(x, h0, c0)
        layer.backward(dh, np.zeros_like(dh))
        return dict(zip(["Wx", "Wh", "b"], layer.grads))
    return charlstm.check_gradients({"Wx": Wx, "Wh": Wh, "b": b},
                                    lambda: np.sum(layer.forward(x, h0, c0)[0] * dh), grads,
                                    gate_order="fgio")


def test_float32_arrays_are_checked_as_they_are_with_the_float32_threshold_and_a_note():
    layer = step_lstm(dtype=np.float32)
    before = [p.tobytes() for p in layer.params]
    report = dls2_direct(layer)
    assert report.ok and report.threshold == 3e-2 and report.step == 1e-2
    assert all(p.dtype == np.float32 for p in layer.params)         # not cast
    assert [p.tobytes() for p in layer.params] == before
    said(report, "Wx, Wh and b are float32", "your code ran as it is, in float32",
         "convert your arrays to float64")
    bad = dls2_direct(step_lstm(dtype=np.float32, mistake="gates_g_i_swapped"))
    assert not bad.ok and wrong(bad) == {"Wx", "Wh", "b"}


# =========================================================================== min-char-rnn's lossFun

def minchar_ns(mistake=None, clip=5.0, T=7):
    ns = minchar(mistake, clip)
    ns.update(inputs=ids(T, 6, 5), targets=ids(T, 6, 6))
    return ns


def test_minchar_adapter_passes_a_correct_lossfun_and_finds_a_missing_dhnext_at_length_2():
    assert run_adapter("min-char-rnn lossFun", minchar_ns()).ok
    report = run_adapter("min-char-rnn lossFun", minchar_ns("no_dhnext"))
    assert report.shortest_failing_length == 2 and wrong(report) == {"Wxh", "bh"}
    said(report, "Right for one step, wrong from two steps on")
    whh = next(p for p in report.lengths[0].params if p.name == "Whh")   # hprev = 0 at length 1
    assert whh.ok and not whh.exercised


def test_minchar_clipped_gradients_are_said_as_clipped():
    report = run_adapter("min-char-rnn lossFun", minchar_ns(clip=0.05))
    assert not report.ok
    said(report, "clipped at +-0.05")


# =========================================================================== sampling and cost

def quadratic(shapes, wrong_block=None, seed=0):
    """loss = sum(c * w**2) / 2 per parameter: gradient c * w; optionally wrong in one block."""
    rng = np.random.default_rng(seed)
    params = {n: rng.standard_normal(s) for n, s in shapes.items()}
    coef = {n: rng.uniform(0.5, 2, s) for n, s in shapes.items()}

    def loss():
        return sum(float(np.sum(coef[n] * params[n] ** 2)) / 2 for n in params)

    def grads():
        g = {n: coef[n] * params[n] for n in params}
        if wrong_block:
            name, sl = wrong_block
            g[name][sl] *= 1.5
        return g
    return params, loss, grads


def test_a_large_fused_parameter_is_sampled_in_every_gate_block():
    H = 50
    params, loss, grads = quadratic({"Wh": (H, 4 * H), "b": (4 * H,)},
                                    wrong_block=("Wh", np.s_[:, 2 * H:3 * H]))
    report = charlstm.check_gradients(params, loss, grads)
    wh = next(p for p in report.parameters if p.name == "Wh")
    assert wh.checked == 40 and [b.gate for b in wh.blocks] == list("ifog")
    assert [int(b.mask.sum()) for b in wh.blocks] == [10, 10, 10, 10]
    assert report.evaluations <= 2 + 2 * (40 + 40) + 2 * 40      # + second opinions of wrong ones
    assert wrong(report) == {"Wh"}
    said(report, "gates wrong: o; right: i f g", "read the axis of length 200 of Wh and b as 4 gate",
         "Wh and b: 40 sampled elements each", "samples=None checks every element")
    full = charlstm.check_gradients(*quadratic({"b": (12,)}), samples=None)
    assert full.parameters[0].checked == 12


def test_gate_names_are_recognised_and_an_rnn_with_input_and_output_weights_has_none():
    lstm = charlstm.check_gradients(*quadratic({n: (3, 5) for n in ["Wf", "Wi", "Wc", "Wo"]}))
    assert [p.blocks[0].gate for p in lstm.parameters] == ["f", "i", "c", "o"]
    rnn = charlstm.check_gradients(*quadratic({n: (3, 3) for n in ["Wi", "Wh", "Wo"]}))
    assert all(b.gate is None for p in rnn.parameters for b in p.blocks)
    gru = charlstm.check_gradients(*quadratic({"Wh": (3, 9), "b": (9,)}))
    assert [b.gate for b in gru.parameters[1].blocks] == ["r", "z", "n"]
    torch_order = charlstm.check_gradients(*quadratic({"Wh": (12, 3)}), gate_order="ifgo")
    assert [(b.gate, b.where) for b in torch_order.parameters[0].blocks][2] == ("g", "rows 2H:3H")
    off = charlstm.check_gradients(*quadratic({"Wh": (3, 12)}), gate_order="")
    assert off.parameters[0].blocks[0].gate is None


def test_the_same_seed_checks_the_same_elements():
    def picks(seed):
        params, loss, grads = quadratic({"W": (30, 30)})
        return [tuple(p.numeric) for p in charlstm.check_gradients(params, loss, grads, seed=seed).parameters]
    assert picks(0) == picks(0) and picks(0) != picks(1)


# =========================================================================== bad input

def class_parts(model=None):
    model = model or ClassLSTM()
    params = {n: getattr(model, n) for n in model.names}
    loss = lambda x, y: -np.sum(np.log(model.forward_propagation(x)[0][np.arange(len(y)), y]))
    grads = lambda x, y: dict(zip(model.names, model.backward_propagation(x, y)))
    return model, params, loss, grads, (ids(5, 5, 1), ids(5, 5, 2))


def test_an_exception_in_the_learners_code_names_their_line_and_restores_the_arrays():
    model, params, loss, grads, seq = class_parts()
    before = {n: p.tobytes() for n, p in params.items()}
    calls = {"n": 0}

    def flaky(x, y):                        # raises in the middle of the check
        calls["n"] += 1
        if calls["n"] == 50:
            return model.Wz
        return loss(x, y)
    with pytest.raises(CharlstmError, match=r"your loss raised AttributeError: 'ClassLSTM' "
                       r"object has no attribute 'Wz' \(test_check_gradients.py, line \d+, in "
                       r"flaky: `return model.Wz`\) with \w+\[\d+(, \d+)?\] changed by 1e-05 "
                       r"\(sequence length 5\)") as e:
        charlstm.check_gradients(params, flaky, grads, sequence=seq)
    assert "\n" not in str(e.value)
    assert all(p.tobytes() == before[n] for n, p in params.items())
    with pytest.raises(CharlstmError, match=r"your grads raised AttributeError.*in "
                       r"forward_propagation: `return self.Wz`"):
        bad = ClassLSTM(mistake="raises")
        charlstm.check_gradients(params, loss, lambda x, y: dict(zip(bad.names, bad.backward_propagation(x, y))),
                                 sequence=seq)


BAD = [
    ("params not a dict", lambda p, l, g, s: ([1, 2], l, g, s), "params must be a non-empty dict"),
    ("a list parameter", lambda p, l, g, s: ({**p, "Wi": [[1.0]]}, l, g, s), r"params\['Wi'\] is a list, not a NumPy array"),
    ("an integer array", lambda p, l, g, s: ({"W": np.arange(3)}, l, g, s), r"params\['W'\] has dtype int64"),
    ("float16", lambda p, l, g, s: ({"W": np.ones(3, np.float16)}, l, g, s), r"params\['W'\] is float16"),
    ("nan in a parameter", lambda p, l, g, s: ({"W": np.array([1.0, np.nan])}, l, g, s), r"params\['W'\] contains nan"),
    ("sequence not a tuple", lambda p, l, g, s: (p, l, g, list(s)), "sequence must be a tuple"),
    ("unequal sequences", lambda p, l, g, s: (p, l, g, (s[0], s[1][:3])), r"different lengths \[5, 3\]"),
    ("a missing gradient", lambda p, l, g, s: (p, l, lambda *a: {k: v for k, v in g(*a).items() if k != "Uf"}, s),
     r"grads returned no gradient for 'Uf'"),
    ("a gradient of another shape", lambda p, l, g, s: (p, l, lambda *a: {**g(*a), "bi": np.zeros((4, 1))}, s),
     r"the gradient of 'bi' has shape \(4, 1\), the parameter has shape \(4,\).*reshape it"),
    ("a gradient with nan", lambda p, l, g, s: (p, l, lambda *a: {**g(*a), "V": np.full((5, 4), np.nan)}, s),
     r"the gradient of 'V' contains nan or inf \(20 of 20 elements\)"),
    ("grads returns a list", lambda p, l, g, s: (p, l, lambda *a: list(g(*a).values()), s),
     r"grads must return a dict.*dict\(zip\("),
    ("a non-scalar loss", lambda p, l, g, s: (p, lambda *a: np.ones(3), g, s), r"your loss returned an array of shape \(3,\)"),
    ("a loss that returns a tuple", lambda p, l, g, s: (p, lambda *a: (l(*a), 0), g, s), r"your loss returned a tuple of 2 values"),
    ("a nan loss", lambda p, l, g, s: (p, lambda *a: np.nan, g, s), r"your loss is nan at the parameters you gave"),
    ("not callable", lambda p, l, g, s: (p, 3.0, g, s), "loss and grads must be functions"),
]


@pytest.mark.parametrize("make, message", [pytest.param(m, msg, id=i) for i, m, msg in BAD])
def test_every_bad_input_gets_one_clear_line_naming_what_is_wrong(make, message):
    _, params, loss, grads, seq = class_parts()
    with pytest.raises(CharlstmError, match=message) as e:
        charlstm.check_gradients(*make(params, loss, grads, seq))
    assert "\n" not in str(e.value)


def test_a_backward_that_updates_the_weights_is_refused_and_the_weights_restored():
    model, params, loss, grads, seq = class_parts(ClassLSTM(mistake="update_inside"))
    before = model.V.copy()
    with pytest.raises(CharlstmError, match=r"your grads changed params\['V'\].*update step"):
        charlstm.check_gradients(params, loss, grads, sequence=seq)
    assert np.array_equal(model.V, before)


def test_a_loss_with_state_between_calls_and_params_that_are_copies_are_refused():
    model, params, loss, grads, seq = class_parts()
    state = {"n": 0}

    def drifting(x, y):
        state["n"] += 1
        return loss(x, y) + 1e-3 * state["n"]
    with pytest.raises(CharlstmError, match="for the same parameters.*keep a state between calls"):
        charlstm.check_gradients(params, drifting, grads, sequence=seq)
    copies = {n: p.copy() for n, p in params.items()}
    with pytest.raises(CharlstmError, match="never changed your loss.*not model.W.copy()"):
        charlstm.check_gradients(copies, loss, grads, sequence=seq)


def test_bad_options_are_refused():
    _, params, loss, grads, seq = class_parts()
    with pytest.raises(CharlstmError, match="gate_order='ifx'"):
        charlstm.check_gradients(params, loss, grads, sequence=seq, gate_order="ifx")
    with pytest.raises(CharlstmError, match="samples=0"):
        charlstm.check_gradients(params, loss, grads, sequence=seq, samples=0)


def test_a_length_at_which_the_learners_code_raises_is_skipped_and_said():
    model, params, loss, grads, seq = class_parts(ClassLSTM(mistake="no_dh_next"))

    def picky(x, y):
        if len(x) == 1:
            raise ValueError("need two steps")
        return loss(x, y)
    report = charlstm.check_gradients(params, picky, grads, sequence=seq)
    assert report.shortest_failing_length == 2
    said(report, "At length 1 your code raised: your loss raised ValueError: need two steps",
         "Those lengths were skipped")


def test_the_report_renders_as_html_for_jupyter():
    page = class_report("no_dc_next")._repr_html_()
    assert page.startswith("<p><b>check_gradients</b>") and "<table>" in page
    assert "<code>Ui</code>" in page and "FAIL" in page and "cell-state gradient" in page
    assert "<code>V</code>" in page and "pass" in page
    assert "untested" in class_report("f_uses_c")._repr_html_()      # Wi at length 1


def test_the_readme_links_the_page():
    readme = (DOC.parent.parent / "README.md").read_text(encoding="utf-8")
    assert "docs/check-gradients.md" in readme and "check_gradients(" in readme
