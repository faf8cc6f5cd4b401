"""Gradient flow through time: the hooked backward against finite differences, the claim
that an LSTM keeps long-range gradients a vanilla RNN loses, and the command."""

import numpy as np
import pytest

from charlstm import layers as Ls
from charlstm.cli import app
from charlstm.gradcheck import numeric_gradient, rel_error
from charlstm.gradflow import flow_figure, gradient_flow, plot_flow, random_models

from conftest import make_text


def last_step_loss(model, x, state):
    logits, _ = model.forward(x, state)
    mask = np.zeros(x.shape, bool)
    mask[:, -1] = True
    return Ls.temporal_softmax_loss(logits, x, mask)[0]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_gradients_at_every_step_match_finite_differences(cell, lstm_path):
    lstm, rnn = random_models(vocab_size=7, hidden_size=5, embed_size=4, seed=2)
    m = lstm if cell == "lstm" else rnn
    rng = np.random.default_rng(0)
    N, T = 3, 8
    x = rng.integers(0, 7, (N, T))
    # The gradient the hooked backward writes for h_t ...
    logits, _, caches = m._forward(x, m.init_state(N), 0.0)
    mask = np.zeros((N, T), bool)
    mask[:, -1] = True
    _, dlogits = Ls.temporal_softmax_loss(logits, x, mask)
    dout, _, _ = Ls.temporal_affine_backward(dlogits, caches[3])
    dh, dc = np.zeros((T, N, 5)), np.zeros((T, N, 5))
    if cell == "lstm":
        Ls.lstm_backward(dout, caches[1][0], dh_out=dh, dc_out=dc)
    else:
        Ls.rnn_backward(dout, caches[1][0], dh_out=dh)
    # ... equals the gradient w.r.t. the initial state of a run that starts at step t+1
    # from (h_t, c_t) and reads the rest of the sequence.
    for t in (0, 3, 6):
        _, (h_t, c_t), pre = m._forward(x[:, :t + 1], m.init_state(N), 0.0)
        # o_t from the gates, (T, 4H, N): i, f, o, g with H = 5. Copied now: the cache lives
        # in the model's workspace, which the next forward call reuses.
        o_t = pre[1][0][4][t][10:15].T.copy() if cell == "lstm" else None
        rest = x[:, t + 1:]
        num_h = numeric_gradient(lambda: last_step_loss(m, rest, (h_t, c_t)), h_t)
        assert rel_error(dh[t], num_h[0]) < 1e-7
        if cell == "lstm":
            # dL/dc_t is the total derivative: c_t also makes h_t = o_t tanh(c_t).

            def loss_from_c():
                h = h_t.copy()
                h[0] = o_t * np.tanh(c_t[0])
                return last_step_loss(m, rest, (h, c_t))

            num_c = numeric_gradient(loss_from_c, c_t)
            assert rel_error(dc[t], num_c[0]) < 1e-7


def test_flow_norms_follow_the_backward_and_h0_is_distance_T():
    lstm, _ = random_models(vocab_size=9, hidden_size=6, embed_size=4)
    x = np.random.default_rng(1).integers(0, 9, (4, 10))
    f = gradient_flow(lstm, x)
    assert f["distance"].tolist() == list(range(11)) and f["dh"].shape == (11,)
    h0, c0 = lstm.init_state(4)
    num = numeric_gradient(lambda: last_step_loss(lstm, x, (h0, c0)), h0)[0]
    assert f["dh"][10] == pytest.approx(np.linalg.norm(num, axis=1).mean(), rel=1e-6)


def test_lstm_keeps_long_range_gradient_a_vanilla_rnn_loses():
    lstm, rnn = random_models(hidden_size=128, seed=0)      # the command's defaults
    x = np.random.default_rng(0).integers(0, 65, (16, 100))
    fl, fr = gradient_flow(lstm, x), gradient_flow(rnn, x)
    assert fr["dh"][50] < 1e-3 * fl["dh"][50]               # orders of magnitude smaller
    assert fl["dc"][50] > fl["dh"][50] * 0.5                 # the cell path carries it
    big_bias, _ = random_models(hidden_size=128, seed=0, forget_bias=3.0)
    assert gradient_flow(big_bias, x)["dh"][50] > 100 * fl["dh"][50]
    _, big_rnn = random_models(hidden_size=128, seed=0, rnn_scale=2.0)
    assert gradient_flow(big_rnn, x)["dh"][100] > gradient_flow(big_rnn, x)["dh"][1]   # explodes


def test_gradflow_command(runner, tmp_path):
    out = tmp_path / "g.png"
    r = runner.invoke(app, ["gradflow", "-o", str(out), "--seq-len", "60", "--hidden-size", "32"])
    assert r.exit_code == 0, r.output
    assert "d=50" in r.stdout and "rnn (Wh scale 1)" in r.stdout and "dL/dc" in r.stdout
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_gradflow_on_a_trained_checkpoint_and_text(runner, tmp_path):
    from charlstm.train import TrainConfig, train
    p = tmp_path / "c.txt"
    p.write_text(make_text(3000))
    train(p, TrainConfig(hidden_size=16, embed_size=8, num_layers=2, batch_size=4, seq_len=16,
                         max_steps=5, sample_chars=0, quiet=True), run_dir=tmp_path / "r",
          log=lambda s: None)
    r = runner.invoke(app, ["gradflow", "--ckpt", str(tmp_path / "r" / "best.npz"), "--text",
                            str(p), "--seq-len", "50", "-o", str(tmp_path / "g.png")])
    assert r.exit_code == 0, r.output
    assert "trained lstm (best.npz): dL/dh" in r.stdout and "random rnn" in r.stdout


def test_flow_figure_draws_each_norm_on_a_log_scale_and_plot_flow_saves_it(tmp_path):
    lstm, rnn = random_models(vocab_size=9, hidden_size=6, embed_size=4)
    x = np.random.default_rng(1).integers(0, 9, (4, 10))
    flows = {"lstm": gradient_flow(lstm, x), "rnn": gradient_flow(rnn, x)}
    fig = flow_figure(flows, title="t")
    ax, = fig.axes
    assert ax.get_yscale() == "log" and ax.get_title() == "t"
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"lstm: ||dL/dh_t||", "lstm: ||dL/dc_t||", "rnn: ||dL/dh_t||"}
    np.testing.assert_array_equal(lines["lstm: ||dL/dc_t||"].get_ydata(), flows["lstm"]["dc"])
    np.testing.assert_array_equal(lines["rnn: ||dL/dh_t||"].get_xdata(), np.arange(11))
    plot_flow(flows, tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
