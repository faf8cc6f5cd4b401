"""Every layer's backward against finite differences, in float64, on tiny odd shapes."""

import numpy as np
import pytest

from charlstm import layers as Ls
from charlstm.errors import CharlstmError
from charlstm.gradcheck import (compare_gradients, format_table, numeric_gradient,
                                numeric_gradient_array, rel_error)

N, T, D, H, V = 2, 3, 4, 5, 6
TOL = 1e-7


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def randn(rng, *shape, scale=1.0):
    return rng.standard_normal(shape) * scale


def check(f, inputs, analytic, dout):
    """Each analytic gradient equals the finite-difference vector-Jacobian product."""
    for x, a in zip(inputs, analytic):
        num = numeric_gradient_array(f, x, dout)
        assert rel_error(a, num) < TOL, rel_error(a, num)


def test_sigmoid_is_stable_and_correct():
    x = np.array([-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4])
    with np.errstate(all="raise"):
        s = Ls.sigmoid(x.copy())
    assert np.all(np.isfinite(s))
    mid = x[1:-1]
    # Accurate to float64 round-off in absolute terms (what gates need); sigmoid(-50)
    # = 2e-22 comes out as 0, an absolute error far below one ulp of 1.
    np.testing.assert_allclose(s[1:-1], 1 / (1 + np.exp(-mid)), rtol=1e-12, atol=1e-16)
    assert s[0] == 0.0 and s[-1] == 1.0


def test_lstm_step_backward(rng):
    x, h, c = randn(rng, N, D), randn(rng, N, H), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, 4 * H, scale=0.5), randn(rng, H, 4 * H, scale=0.5), randn(rng, 4 * H)
    dh, dc = randn(rng, N, H), randn(rng, N, H)
    _, _, cache = Ls.lstm_step_forward(x, h, c, Wx, Wh, b)
    grads = Ls.lstm_step_backward(dh, dc, cache)
    inputs = [x, h, c, Wx, Wh, b]

    def f():
        nh, nc, _ = Ls.lstm_step_forward(x, h, c, Wx, Wh, b)
        return np.concatenate([nh, nc])

    check(f, inputs, grads, np.concatenate([dh, dc]))


def test_rnn_step_backward(rng):
    x, h = randn(rng, N, D), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, H), randn(rng, H, H), randn(rng, H)
    dout = randn(rng, N, H)
    _, cache = Ls.rnn_step_forward(x, h, Wx, Wh, b)
    check(lambda: Ls.rnn_step_forward(x, h, Wx, Wh, b)[0], [x, h, Wx, Wh, b],
          Ls.rnn_step_backward(dout, cache), dout)


def test_lstm_sequence_backward_including_final_state_grads(rng, lstm_path):
    x, h0, c0 = randn(rng, N, T, D), randn(rng, N, H), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, 4 * H, scale=0.5), randn(rng, H, 4 * H, scale=0.5), randn(rng, 4 * H)
    dh, dhT, dcT = randn(rng, N, T, H), randn(rng, N, H), randn(rng, N, H)
    *_, cache = Ls.lstm_forward(x, h0, c0, Wx, Wh, b)
    grads = Ls.lstm_backward(dh, cache, dhT, dcT)

    def f():  # a scalar that depends on every output, including hT and cT
        h, hT, cT, _ = Ls.lstm_forward(x, h0, c0, Wx, Wh, b)
        return np.sum(h * dh) + np.sum(hT * dhT) + np.sum(cT * dcT)

    for arr, g in zip([x, h0, c0, Wx, Wh, b], grads):
        assert g.shape == arr.shape
        assert rel_error(g, numeric_gradient(f, arr)) < TOL


def test_rnn_sequence_backward(rng):
    x, h0 = randn(rng, N, T, D), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, H, scale=0.5), randn(rng, H, H, scale=0.5), randn(rng, H)
    dh, dhT = randn(rng, N, T, H), randn(rng, N, H)
    _, _, cache = Ls.rnn_forward(x, h0, Wx, Wh, b)
    grads = Ls.rnn_backward(dh, cache, dhT)

    def f():
        h, hT, _ = Ls.rnn_forward(x, h0, Wx, Wh, b)
        return np.sum(h * dh) + np.sum(hT * dhT)

    for arr, g in zip([x, h0, Wx, Wh, b], grads):
        assert g.shape == arr.shape
        assert rel_error(g, numeric_gradient(f, arr)) < TOL


def gru_params(rng):
    return (randn(rng, D, 3 * H, scale=0.5), randn(rng, H, 3 * H, scale=0.5),
            randn(rng, 3 * H, scale=0.5), randn(rng, H, scale=0.5))


def test_gru_step_backward(rng):
    x, h = randn(rng, N, D), randn(rng, N, H)
    Wx, Wh, b, bh = gru_params(rng)
    dout = randn(rng, N, H)
    _, cache = Ls.gru_step_forward(x, h, Wx, Wh, b, bh)
    check(lambda: Ls.gru_step_forward(x, h, Wx, Wh, b, bh)[0], [x, h, Wx, Wh, b, bh],
          Ls.gru_step_backward(dout, cache), dout)


def test_gru_sequence_backward_including_final_state_grad(rng):
    x, h0 = randn(rng, N, T, D), randn(rng, N, H)
    Wx, Wh, b, bh = gru_params(rng)
    dh, dhT = randn(rng, N, T, H), randn(rng, N, H)
    _, _, cache = Ls.gru_forward(x, h0, Wx, Wh, b, bh)
    grads = Ls.gru_backward(dh, cache, dhT)

    def f():
        h, hT, _ = Ls.gru_forward(x, h0, Wx, Wh, b, bh)
        return np.sum(h * dh) + np.sum(hT * dhT)

    for arr, g in zip([x, h0, Wx, Wh, b, bh], grads):
        assert g.shape == arr.shape
        assert rel_error(g, numeric_gradient(f, arr)) < TOL


def test_gru_sequence_equals_step_loop(rng):
    x, h0 = randn(rng, N, T, D), randn(rng, N, H)
    Wx, Wh, b, bh = gru_params(rng)
    dh = randn(rng, N, T, H)
    h, hT, cache = Ls.gru_forward(x, h0, Wx, Wh, b, bh)
    dx, dh0, *dW = Ls.gru_backward(dh, cache)
    hp, caches = h0, []
    for t in range(T):
        hp, c = Ls.gru_step_forward(x[:, t], hp, Wx, Wh, b, bh)
        np.testing.assert_allclose(h[:, t], hp, rtol=1e-12, atol=1e-14)
        caches.append(c)
    dnext, sums = np.zeros((N, H)), [np.zeros_like(w) for w in dW]
    for t in reversed(range(T)):
        dxt, dnext, *g = Ls.gru_step_backward(dh[:, t] + dnext, caches[t])
        np.testing.assert_allclose(dx[:, t], dxt, rtol=1e-10, atol=1e-13)
        sums = [s + gi for s, gi in zip(sums, g)]
    np.testing.assert_allclose(dh0, dnext, rtol=1e-10, atol=1e-13)
    for a, s in zip(dW, sums):
        np.testing.assert_allclose(a, s, rtol=1e-10, atol=1e-13)


def test_lstm_sequence_equals_step_loop(rng, lstm_path):
    """The fused, in-place sequence code computes what the plain step function does."""
    x, h0, c0 = randn(rng, N, T, D), randn(rng, N, H), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, 4 * H), randn(rng, H, 4 * H), randn(rng, 4 * H)
    h_seq, hT, cT, _ = Ls.lstm_forward(x, h0, c0, Wx, Wh, b)
    h, c = h0, c0
    for t in range(T):
        h, c, _ = Ls.lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        np.testing.assert_allclose(h_seq[:, t], h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hT, h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cT, c, rtol=1e-12, atol=1e-14)


def naive_lstm_step(x, h, c, Wx, Wh, b):
    """Per-gate reference, written from the equations with separate weight blocks."""
    sig = lambda z: 1 / (1 + np.exp(-z))
    blk = lambda M, k: M[..., k * H:(k + 1) * H]
    i = sig(x @ blk(Wx, 0) + h @ blk(Wh, 0) + blk(b, 0))
    f = sig(x @ blk(Wx, 1) + h @ blk(Wh, 1) + blk(b, 1))
    o = sig(x @ blk(Wx, 2) + h @ blk(Wh, 2) + blk(b, 2))
    g = np.tanh(x @ blk(Wx, 3) + h @ blk(Wh, 3) + blk(b, 3))
    c = f * c + i * g
    return o * np.tanh(c), c


def test_lstm_step_matches_naive_per_gate_reference(rng):
    x, h, c = randn(rng, N, D), randn(rng, N, H), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, 4 * H), randn(rng, H, 4 * H), randn(rng, 4 * H)
    nh, nc, _ = Ls.lstm_step_forward(x, h, c, Wx, Wh, b)
    rh, rc = naive_lstm_step(x, h, c, Wx, Wh, b)
    np.testing.assert_allclose(nh, rh, rtol=1e-12)
    np.testing.assert_allclose(nc, rc, rtol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_state_carried_over_two_halves_equals_whole(rng, cell, lstm_path):
    T2 = 6
    x, h0, c0 = randn(rng, N, T2, D), randn(rng, N, H), randn(rng, N, H)
    G = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
    Wx, Wh, b, bh = randn(rng, D, G * H), randn(rng, H, G * H), randn(rng, G * H), randn(rng, H)
    if cell == "gru":
        whole, hT, _ = Ls.gru_forward(x, h0, Wx, Wh, b, bh)
        a, h1, _ = Ls.gru_forward(x[:, :2], h0, Wx, Wh, b, bh)
        bb, h2, _ = Ls.gru_forward(x[:, 2:], h1, Wx, Wh, b, bh)
    elif cell == "lstm":
        whole, hT, cT, _ = Ls.lstm_forward(x, h0, c0, Wx, Wh, b)
        a, h1, c1, _ = Ls.lstm_forward(x[:, :2], h0, c0, Wx, Wh, b)
        bb, h2, c2, _ = Ls.lstm_forward(x[:, 2:], h1, c1, Wx, Wh, b)
        np.testing.assert_allclose(c2, cT, rtol=1e-12)
    else:
        whole, hT, _ = Ls.rnn_forward(x, h0, Wx, Wh, b)
        a, h1, _ = Ls.rnn_forward(x[:, :2], h0, Wx, Wh, b)
        bb, h2, _ = Ls.rnn_forward(x[:, 2:], h1, Wx, Wh, b)
    np.testing.assert_allclose(np.concatenate([a, bb], axis=1), whole, rtol=1e-12)
    np.testing.assert_allclose(h2, hT, rtol=1e-12)


def test_embedding_backward(rng):
    x = rng.integers(0, V, (N, T))
    x[0, 0] = x[1, 2]                                  # a repeated id must accumulate
    W = randn(rng, V, D)
    out, cache = Ls.embedding_forward(x, W)
    np.testing.assert_array_equal(out, np.eye(V)[x] @ W)   # = one-hot times W
    dout = randn(rng, N, T, D)
    dW = Ls.embedding_backward(dout, cache)
    expected = np.zeros_like(W)
    np.add.at(expected, x, dout)
    np.testing.assert_allclose(dW, expected, rtol=1e-12)
    check(lambda: Ls.embedding_forward(x, W)[0], [W], [dW], dout)


def test_embedding_backward_big_vocabulary_takes_the_scatter_path(rng):
    Vb, Nb, Tb = 2200, 10, 100                         # one-hot would be 2.2M entries
    x = rng.integers(0, Vb, (Nb, Tb))
    x[0, :7] = 3                                       # repeated ids accumulate
    W = randn(rng, Vb, D)
    _, cache = Ls.embedding_forward(x, W)
    dout = randn(rng, Nb, Tb, D)
    expected = np.zeros_like(W)
    np.add.at(expected, x, dout)
    np.testing.assert_allclose(Ls.embedding_backward(dout, cache), expected, rtol=1e-12)


def test_embedding_backward_float32_keeps_dtype(rng):
    x = rng.integers(0, V, (N, T))
    W = randn(rng, V, D).astype(np.float32)
    out, cache = Ls.embedding_forward(x, W)
    assert Ls.embedding_backward(out, cache).dtype == np.float32


def test_temporal_affine_backward(rng):
    x, W, b = randn(rng, N, T, D), randn(rng, D, V), randn(rng, V)
    dout = randn(rng, N, T, V)
    _, cache = Ls.temporal_affine_forward(x, W, b)
    check(lambda: Ls.temporal_affine_forward(x, W, b)[0], [x, W, b],
          Ls.temporal_affine_backward(dout, cache), dout)


def test_temporal_softmax_loss_value_and_gradient(rng):
    x, y = randn(rng, N, T, V), rng.integers(0, V, (N, T))
    loss, dx = Ls.temporal_softmax_loss(x, y)
    # Reference: the mean negative log-likelihood, computed the plain way.
    p = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    ref = -np.mean(np.log(p[np.arange(N)[:, None], np.arange(T), y]))
    assert abs(loss - ref) < 1e-12
    num = numeric_gradient(lambda: Ls.temporal_softmax_loss(x, y)[0], x)
    assert rel_error(dx, num) < TOL


def test_temporal_softmax_loss_uniform_is_log_v():
    loss, _ = Ls.temporal_softmax_loss(np.zeros((N, T, V)), np.zeros((N, T), int))
    assert abs(loss - np.log(V)) < 1e-12


def test_temporal_softmax_loss_mask(rng):
    x, y = randn(rng, N, T, V), rng.integers(0, V, (N, T))
    mask = np.ones((N, T), bool)
    mask[1, 2] = False
    loss, dx = Ls.temporal_softmax_loss(x, y, mask)
    assert np.all(dx[1, 2] == 0)
    num = numeric_gradient(lambda: Ls.temporal_softmax_loss(x, y, mask)[0], x)
    assert rel_error(dx, num) < TOL


def test_temporal_softmax_loss_extreme_logits_are_finite(rng):
    x = rng.choice([-1e4, 1e4], size=(N, T, V))
    y = rng.integers(0, V, (N, T))
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss, dx = Ls.temporal_softmax_loss(x, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert loss >= 0


def test_dropout_is_inverted_and_masks_gradient(rng):
    x = np.ones((50, 40, 30))
    out, mask = Ls.dropout_forward(x, 0.3, rng)
    assert abs(out.mean() - 1.0) < 0.03                # expectation kept
    assert abs((out == 0).mean() - 0.3) < 0.02
    np.testing.assert_array_equal(Ls.dropout_backward(np.ones_like(x), mask), out)
    same, none = Ls.dropout_forward(x, 0.0, rng)
    assert same is x and none is None


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_workspace_reuse_gives_the_same_numbers_and_follows_shape_changes(rng, cell, lstm_path):
    """A layer given a Workspace reuses its arrays across calls; results never change."""
    G = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
    Wx, Wh, b, bh = randn(rng, D, G * H), randn(rng, H, G * H), randn(rng, G * H), randn(rng, H)
    fwd = {"lstm": lambda x, h0, ws=None: Ls.lstm_forward(x, h0, h0, Wx, Wh, b, ws),
           "gru": lambda x, h0, ws=None: Ls.gru_forward(x, h0, Wx, Wh, b, bh, ws),
           "rnn": lambda x, h0, ws=None: Ls.rnn_forward(x, h0, Wx, Wh, b, ws)}[cell]
    bwd = {"lstm": Ls.lstm_backward, "gru": Ls.gru_backward, "rnn": Ls.rnn_backward}[cell]
    ws = Ls.Workspace()
    for n, t in [(N, T), (N, T), (N + 1, T + 2), (N, T)]:
        x, h0, dh = randn(rng, n, t, D), randn(rng, n, H), randn(rng, n, t, H)
        fresh = fwd(x, h0)
        fresh_grads = bwd(dh, fresh[-1])
        reused = fwd(x, h0, ws)
        for a, r in zip(fresh[:-1], reused[:-1]):
            np.testing.assert_array_equal(a, r)
        for a, r in zip(fresh_grads, bwd(dh, reused[-1])):
            np.testing.assert_array_equal(a, r)


@pytest.mark.parametrize("layout", ["batch-major", "strided", "feature-major view"])
def test_lstm_accepts_any_input_layout(rng, layout, lstm_path):
    x = randn(rng, N, 2 * T, D)
    x = {"batch-major": np.ascontiguousarray(x[:, :T]), "strided": x[:, ::2],
         "feature-major view": Ls._logical(np.ascontiguousarray(x[:, :T].transpose(2, 1, 0)))}[layout]
    h0, c0 = randn(rng, N, H), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, 4 * H), randn(rng, H, 4 * H), randn(rng, 4 * H)
    h, hT, cT, _ = Ls.lstm_forward(x, h0, c0, Wx, Wh, b)
    ref, *_ = Ls.lstm_forward(np.array(x, order="C"), h0, c0, Wx, Wh, b)
    np.testing.assert_array_equal(h, ref)
    assert Ls._feature_major(h).base is not None       # the output hands on without a copy


def test_dropout_mask_follows_the_memory_layout_of_its_input(rng):
    x = Ls._logical(np.ones((H, T, N)))                 # (N, T, H) view, feature-major storage
    out, mask = Ls.dropout_forward(x, 0.5, rng)
    assert out.shape == mask.shape == (N, T, H)
    assert out.transpose(2, 1, 0).flags.c_contiguous   # the product ran over contiguous memory
    np.testing.assert_array_equal(out, mask)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_an_embedded_input_is_the_same_layer_as_its_looked_up_rows(rng, cell, lstm_path):
    """Ls.Embedded(ids, W) in place of x = W[ids]: the same outputs and weight gradients,
    and in place of dx the gradient of W that the embedding's backward would give."""
    G = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
    ids = rng.integers(0, V, (N, T))
    ids[0, 0] = ids[1, 2]                              # a character seen twice
    W = randn(rng, V, D)
    Wx, Wh, b, bh, h0 = randn(rng, D, G * H), randn(rng, H, G * H), randn(rng, G * H), randn(rng, H), randn(rng, N, H)
    fwd = {"lstm": lambda x: Ls.lstm_forward(x, h0, 0.5 * h0, Wx, Wh, b),
           "gru": lambda x: Ls.gru_forward(x, h0, Wx, Wh, b, bh),
           "rnn": lambda x: Ls.rnn_forward(x, h0, Wx, Wh, b)}[cell]
    bwd = {"lstm": Ls.lstm_backward, "gru": Ls.gru_backward, "rnn": Ls.rnn_backward}[cell]
    x, emb_cache = Ls.embedding_forward(ids, W)
    dense, looked_up = fwd(x), fwd(Ls.Embedded(ids, W))
    for a, c in zip(dense[:-1], looked_up[:-1]):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)
    dh = randn(rng, N, T, H)
    g_dense, g_emb = bwd(dh, dense[-1]), bwd(dh, looked_up[-1])
    np.testing.assert_allclose(g_emb[0], Ls.embedding_backward(g_dense[0], emb_cache),
                               rtol=1e-10, atol=1e-12)
    assert g_emb[0].shape == W.shape
    for a, c in zip(g_dense[1:], g_emb[1:]):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


def test_compare_gradients_passes_a_right_backward_and_fails_a_wrong_one(rng):
    x, prev_h, prev_c = randn(rng, N, D), randn(rng, N, H), randn(rng, N, H)
    Wx, Wh, b = randn(rng, D, 4 * H, scale=0.5), randn(rng, H, 4 * H, scale=0.5), randn(rng, 4 * H)
    dnext_h, dnext_c = randn(rng, N, H), randn(rng, N, H)
    inputs = {"x": x, "prev_h": prev_h, "prev_c": prev_c, "Wx": Wx, "Wh": Wh, "b": b}
    before = {k: v.copy() for k, v in inputs.items()}

    def f():
        next_h, next_c, _ = Ls.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
        return np.sum(next_h * dnext_h) + np.sum(next_c * dnext_c)

    _, _, cache = Ls.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    grads = dict(zip(inputs, Ls.lstm_step_backward(dnext_h, dnext_c, cache)))
    rows = compare_gradients(f, inputs, grads)
    assert [r.name for r in rows] == list(inputs) and all(r.ok for r in rows)
    assert max(r.max_rel_error for r in rows) < 1e-8
    assert [r.shape for r in rows] == [v.shape for v in inputs.values()]
    for k, v in inputs.items():                        # every array nudged back exactly
        assert np.array_equal(v, before[k])
    grads["prev_c"] = 2 * grads["prev_c"]              # off by a factor of 2: rel error 1/3
    rows = {r.name: r for r in compare_gradients(f, inputs, grads)}
    assert not rows["prev_c"].ok and abs(rows["prev_c"].max_rel_error - 1 / 3) < 1e-6
    assert rows["x"].ok
    assert "FAIL" in format_table(rows.values()) and "prev_c" in format_table(rows.values())
    with pytest.raises(CharlstmError, match="gradient given for b has shape"):
        compare_gradients(f, {"b": b}, {"b": b[:-1]})
