"""Parity with an independent reference: PyTorch's nn.LSTM / nn.GRU / nn.RNN (skipped without torch).

PyTorch orders the LSTM's gates i, f, g, o and stores weights as (4H, D) with two biases;
charlstm orders them i, f, o, g as (D, 4H) with one bias. We copy charlstm's weights into
torch (reorder, transpose, split the bias), run both, and compare outputs and gradients.
The GRU has the same gate order, r, z, n, in both; torch's bias_ih is charlstm's b and
its bias_hh is (0, 0, bh).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from charlstm.model import CharLSTM, ModelConfig  # noqa: E402

N, T, V, E, H = 3, 7, 11, 5, 6


def ifog_to_ifgo(w, H):
    """Reorder the gate blocks of the last axis from i,f,o,g to i,f,g,o (and back: same)."""
    i, f, o, g = (w[..., k * H:(k + 1) * H] for k in range(4))
    return np.concatenate([i, f, g, o], axis=-1)


def build_torch(m: CharLSTM):
    cfg, p = m.cfg, m.params
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cfg.cell]
    kw = {"nonlinearity": "tanh"} if cfg.cell == "rnn" else {}
    rnn = cls(cfg.embed_size, cfg.hidden_size, num_layers=cfg.num_layers, batch_first=True,
              dtype=torch.float64, **kw)
    reorder = (lambda w: ifog_to_ifgo(w, cfg.hidden_size)) if cfg.cell == "lstm" else (lambda w: w)
    with torch.no_grad():
        for l in range(cfg.num_layers):
            getattr(rnn, f"weight_ih_l{l}").copy_(torch.from_numpy(reorder(p[f"layer{l}.Wx"]).T))
            getattr(rnn, f"weight_hh_l{l}").copy_(torch.from_numpy(reorder(p[f"layer{l}.Wh"]).T))
            getattr(rnn, f"bias_ih_l{l}").copy_(torch.from_numpy(reorder(p[f"layer{l}.b"])))
            getattr(rnn, f"bias_hh_l{l}").zero_()
            if cfg.cell == "gru":
                getattr(rnn, f"bias_hh_l{l}")[2 * cfg.hidden_size:] = torch.from_numpy(p[f"layer{l}.bh"])
    emb = torch.nn.Parameter(torch.from_numpy(p["embed"].copy()))
    W = torch.nn.Parameter(torch.from_numpy(p["out.W"].copy()))
    b = torch.nn.Parameter(torch.from_numpy(p["out.b"].copy()))
    return rnn, emb, W, b


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
def test_outputs_and_gradients_match_pytorch(cell, layers, lstm_path):
    cfg = ModelConfig(vocab_size=V, hidden_size=H, num_layers=layers, embed_size=E, cell=cell)
    m = CharLSTM(cfg, seed=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    for name in m.params:                              # non-zero biases, bh included
        if name.endswith((".b", ".bh")):
            m.params[name][...] = rng.standard_normal(m.params[name].shape) * 0.3
    x, y = rng.integers(0, V, (N, T)), rng.integers(0, V, (N, T))
    h0 = rng.standard_normal((layers, N, H)) * 0.5
    c0 = rng.standard_normal((layers, N, H)) * 0.5 if cell == "lstm" else np.zeros_like(h0)

    loss, grads, (hT, cT), (dh0, dc0) = m.forward_backward(x, y, (h0, c0), train=False)
    logits, _ = m.forward(x, (h0, c0))

    rnn, emb, W, b = build_torch(m)
    th0 = torch.tensor(h0, requires_grad=True)
    tc0 = torch.tensor(c0, requires_grad=True)
    inp = emb[torch.from_numpy(x)]
    out, st = rnn(inp, (th0, tc0) if cell == "lstm" else th0)
    tlogits = out @ W + b
    tloss = torch.nn.functional.cross_entropy(tlogits.reshape(-1, V), torch.from_numpy(y).reshape(-1))
    tloss.backward()

    tol = dict(rtol=1e-10, atol=1e-10)
    assert abs(loss - tloss.item()) < 1e-10
    np.testing.assert_allclose(logits, tlogits.detach().numpy(), **tol)
    if cell == "lstm":
        np.testing.assert_allclose(hT, st[0].detach().numpy(), **tol)
        np.testing.assert_allclose(cT, st[1].detach().numpy(), **tol)
        np.testing.assert_allclose(dc0, tc0.grad.numpy(), **tol)
    else:
        np.testing.assert_allclose(hT, st.detach().numpy(), **tol)
    np.testing.assert_allclose(dh0, th0.grad.numpy(), **tol)
    np.testing.assert_allclose(grads["embed"], emb.grad.numpy(), **tol)
    np.testing.assert_allclose(grads["out.W"], W.grad.numpy(), **tol)
    np.testing.assert_allclose(grads["out.b"], b.grad.numpy(), **tol)
    reorder = (lambda w: ifog_to_ifgo(w, H)) if cell == "lstm" else (lambda w: w)
    for l in range(layers):
        gi = getattr(rnn, f"weight_ih_l{l}").grad.numpy().T
        gh = getattr(rnn, f"weight_hh_l{l}").grad.numpy().T
        gb = getattr(rnn, f"bias_ih_l{l}").grad.numpy()
        if cell == "gru":
            gbh = getattr(rnn, f"bias_hh_l{l}").grad.numpy()
            np.testing.assert_allclose(grads[f"layer{l}.bh"], gbh[2 * H:], **tol)
        # ifog_to_ifgo is its own inverse: swapping blocks 2 and 3 twice is the identity.
        np.testing.assert_allclose(grads[f"layer{l}.Wx"], reorder(gi), **tol)
        np.testing.assert_allclose(grads[f"layer{l}.Wh"], reorder(gh), **tol)
        np.testing.assert_allclose(grads[f"layer{l}.b"], reorder(gb), **tol)


def test_gru_step_matches_gru_cell():
    from charlstm import layers as Ls
    Np, D, Hs = 4, 3, 5
    rng = np.random.default_rng(2)
    x, h = rng.standard_normal((Np, D)), rng.standard_normal((Np, Hs))
    Wx, Wh = rng.standard_normal((D, 3 * Hs)) * 0.5, rng.standard_normal((Hs, 3 * Hs)) * 0.5
    b, bh = rng.standard_normal(3 * Hs) * 0.5, rng.standard_normal(Hs) * 0.5
    nh, cache = Ls.gru_step_forward(x, h, Wx, Wh, b, bh)
    dnh = rng.standard_normal(nh.shape)
    dx, dh, dWx, dWh, db, dbh = Ls.gru_step_backward(dnh, cache)
    cell = torch.nn.GRUCell(D, Hs, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(Wx.T))
        cell.weight_hh.copy_(torch.from_numpy(Wh.T))
        cell.bias_ih.copy_(torch.from_numpy(b))
        cell.bias_hh.copy_(torch.from_numpy(np.concatenate([np.zeros(2 * Hs), bh])))
    tx, th = torch.tensor(x, requires_grad=True), torch.tensor(h, requires_grad=True)
    out = cell(tx, th)
    out.backward(torch.from_numpy(dnh))
    tol = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(nh, out.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(dh, th.grad.numpy(), **tol)
    np.testing.assert_allclose(dWx, cell.weight_ih.grad.numpy().T, **tol)
    np.testing.assert_allclose(dWh, cell.weight_hh.grad.numpy().T, **tol)
    np.testing.assert_allclose(db, cell.bias_ih.grad.numpy(), **tol)
    np.testing.assert_allclose(dbh, cell.bias_hh.grad.numpy()[2 * Hs:], **tol)


def test_training_with_adam_weight_decay_and_clipping_follows_pytorchs_adamw():
    """Thirty training steps from the same weights on the same batches, state carried
    (truncated BPTT), dropout off: charlstm's Adam, global-norm clipping and decoupled
    weight decay on the weight matrices against torch.optim.AdamW with the same groups
    (scripts/quality.py's PyTorch recipe). Same losses and weights, to float64 rounding."""
    from charlstm.optim import Adam, clip_grads, take_step
    L, lr, wd, clip = 2, 3e-2, 0.5, 0.05               # a clip this small bites every step
    m = CharLSTM(ModelConfig(vocab_size=V, embed_size=E, hidden_size=H, num_layers=L),
                 seed=3, dtype=np.float64)
    rnn, emb, W, b = build_torch(m)
    for l in range(L):                                 # charlstm has one bias: keep torch's second at 0
        getattr(rnn, f"bias_hh_l{l}").requires_grad_(False)
    mats = [getattr(rnn, f"weight_{k}_l{l}") for l in range(L) for k in ("ih", "hh")] + [W]
    others = [getattr(rnn, f"bias_ih_l{l}") for l in range(L)] + [emb, b]
    opt_t = torch.optim.AdamW([{"params": mats, "weight_decay": wd},
                               {"params": others, "weight_decay": 0.0}], lr=lr)
    opt = Adam(m.params)
    rng = np.random.default_rng(0)
    data = rng.integers(0, V, (N, 30 * T + 1))
    state, state_t = m.init_state(N), None
    for s in range(30):
        x, y = data[:, s * T:(s + 1) * T], data[:, s * T + 1:(s + 1) * T + 1]
        loss, grads, state = m.loss_and_grads(x, y, state)
        clip_grads(grads, clip)
        take_step(opt, m.params, grads, lr, wd)        # the trainer's update: decay, then Adam
        out, new = rnn(emb[torch.from_numpy(x)], state_t)
        loss_t = torch.nn.functional.cross_entropy((out @ W + b).reshape(-1, V),
                                                   torch.from_numpy(y).reshape(-1))
        opt_t.zero_grad()
        loss_t.backward()
        torch.nn.utils.clip_grad_norm_([*mats, *others], clip)
        opt_t.step()
        state_t = tuple(t.detach() for t in new)
        assert abs(loss - loss_t.item()) < 1e-9, s
    Wh1 = ifog_to_ifgo(m.params["layer1.Wh"], H).T
    np.testing.assert_allclose(rnn.weight_hh_l1.detach().numpy(), Wh1, atol=1e-9)
    np.testing.assert_allclose(emb.detach().numpy(), m.params["embed"], atol=1e-9)
