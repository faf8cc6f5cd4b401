"""Pure forward/backward pairs: the pieces a character-level RNN is built from.

Every layer is a ``*_forward`` function that returns its output and a cache, and a
``*_backward`` function that takes the upstream gradient and the cache and returns the
gradients of the forward's inputs, in the order the forward took them.

Shapes use N (batch), T (time), D (input size), H (hidden size), V (vocabulary).

Memory layout: sequence arrays are *logically* (N, T, ...) as in the classic coursework
API, but the sequence layers store them time-major, (T, N, ...), and hand back a
transposed view. That way the slice for one time step, ``a[t]``, is one contiguous
block (good for the BLAS call in the time loop), and passing one layer's output to the
next costs no copy: ``np.ascontiguousarray(x.transpose(1, 0, 2))`` of such a view is free.
Any (N, T, D) array works as input; a batch-major one is copied once.
"""

from __future__ import annotations

import numpy as np


# --------------------------------------------------------------------------- helpers

def sigmoid(x, out=None):
    """Logistic sigmoid, stable for any |x| (no overflow in exp): 0.5 * (1 + tanh(x / 2)).

    ``out`` may be ``x`` itself, for an in-place update.
    """
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _time_major(x):
    """(N, T, ...) -> contiguous (T, N, ...); free when x is a view of time-major storage."""
    return np.ascontiguousarray(np.swapaxes(x, 0, 1))


def _batch_major(x):
    """(T, N, ...) -> (N, T, ...) view."""
    return np.swapaxes(x, 0, 1)


# --------------------------------------------------------------------------- embedding

def embedding_forward(x, W):
    """Look up a vector for each character id.

    Equivalent to one-hot(x) @ W, done as a row gather.

    x: (N, T) integer ids in [0, V); W: (V, D)  ->  out (N, T, D), cache
    """
    out = W[x.T]                                       # (T, N, D), time-major
    return _batch_major(out), (x, W.shape)


def embedding_backward(dout, cache):
    """dout (N, T, D) -> dW (V, D).

    The scatter-add of one-hot(x).T @ dout, done as one sort-free ``np.bincount`` per
    column block instead of the slow ``np.add.at``.
    """
    x, (V, D) = cache
    idx = x.T.reshape(-1)                              # ids in the (T, N) order of dout
    d = _time_major(dout).reshape(-1, D)               # (T*N, D)
    # Offset each row's id by column so one bincount scatters the whole matrix.
    flat = (idx[:, None] * D + np.arange(D)).reshape(-1)
    dW = np.bincount(flat, weights=d.reshape(-1).astype(np.float64, copy=False),
                     minlength=V * D)
    return dW.reshape(V, D).astype(dout.dtype, copy=False)


# --------------------------------------------------------------------------- vanilla RNN

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step of a tanh RNN: next_h = tanh(x Wx + prev_h Wh + b).

    x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,)  ->  next_h (N, H), cache
    """
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """dnext_h (N, H) -> dx, dprev_h, dWx, dWh, db."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)                   # through tanh
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(0)


def rnn_forward(x, h0, Wx, Wh, b):
    """A tanh RNN over a whole sequence.

    x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,)
    ->  h (N, T, H), hT (N, H) final hidden state, cache
    """
    xt = _time_major(x)                                # (T, N, D)
    T, N, D = xt.shape
    H = h0.shape[1]
    hs = np.empty((T + 1, N, H), dtype=Wx.dtype)       # hs[0] = h0, hs[t+1] = h_t
    hs[0] = h0
    # Input projections for all steps in one GEMM, outside the time loop.
    np.matmul(xt.reshape(T * N, D), Wx, out=hs[1:].reshape(T * N, H))
    hs[1:] += b
    for t in range(T):
        hs[t + 1] += hs[t] @ Wh
        np.tanh(hs[t + 1], out=hs[t + 1])
    return _batch_major(hs[1:]), hs[T].copy(), (xt, hs, Wx, Wh)


def rnn_backward(dh, cache, dhT=None, dh_out=None):
    """dh (N, T, H) upstream gradient of every h_t; dhT (N, H) optional gradient of hT.

    ->  dx (N, T, D), dh0 (N, H), dWx, dWh, db
    dh_out: optional (T, N, H) array that receives the total gradient of each h_t
    (from above and from step t+1), for looking at gradient flow through time.
    """
    xt, hs, Wx, Wh = cache
    T, N, D = xt.shape
    H = hs.shape[2]
    da = _time_major(dh).copy()                        # (T, N, H), becomes d(pre-activation)
    dnext = np.zeros((N, H), dtype=da.dtype) if dhT is None else dhT.astype(da.dtype)
    for t in reversed(range(T)):
        da[t] += dnext
        if dh_out is not None:
            dh_out[t] = da[t]
        da[t] *= 1 - hs[t + 1] ** 2                    # through tanh
        dnext = da[t] @ Wh.T
    da2 = da.reshape(T * N, H)
    dx = (da2 @ Wx.T).reshape(T, N, D)
    dWx = xt.reshape(T * N, D).T @ da2                 # all steps in one GEMM
    dWh = hs[:-1].reshape(T * N, H).T @ da2
    return _batch_major(dx), dnext, dWx, dWh, da2.sum(0)


# --------------------------------------------------------------------------- LSTM

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step, gates fused into one (N, 4H) matrix in the order i, f, o, g.

        a = x Wx + prev_h Wh + b
        i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2H]), sigmoid(a[:, 2H:3H])
        g = tanh(a[:, 3H:])
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    x (N, D), prev_h (N, H), prev_c (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,)
    ->  next_h (N, H), next_c (N, H), cache
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b                       # (N, 4H) gate pre-activations
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """dnext_h, dnext_c (N, H) -> dx, dprev_h, dprev_c, dWx, dWh, db."""
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)         # c feeds h = o*tanh(c) too
    da = np.hstack([dc * g * i * (1 - i),              # input gate
                    dc * prev_c * f * (1 - f),         # forget gate
                    dnext_h * tc * o * (1 - o),        # output gate
                    dc * i * (1 - g ** 2)])            # candidate
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(0)


def _tanh(x, out):
    """tanh(x) = 2 / (1 + exp(-2x)) - 1, written into ``out``.

    NumPy's float32 exp is vectorised and about three times faster than its tanh on this
    kind of CPU; the result is exact to round-off in absolute terms, and exp overflow
    (x < -44 in float32) gives the right limit -1 (callers silence the warning).
    """
    np.multiply(x, -2.0, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.divide(2.0, out, out=out)
    out -= 1.0
    return out


def lstm_forward(x, h0, c0, Wx, Wh, b):
    """An LSTM over a whole sequence (same equations as ``lstm_step_forward``).

    x (N, T, D), h0 (N, H), c0 (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,)
    ->  h (N, T, H), hT (N, H), cT (N, H) final states, cache

    Speed tricks, each keeping the step function's math:
    - the input projection x Wx + b for all T steps is one GEMM before the loop;
    - one exp gives all four gates: sigmoid(z) = 1 / (1 + exp(-z)) and
      tanh(z) = 2 sigmoid(2z) - 1. The factors -1 (i, f, o) and -2 (g) are folded into
      copies of Wx, Wh and b, so the loop computes the scaled pre-activations directly;
    - the gate activations overwrite them in place, in one (T, N, 4H) buffer;
    - hs and cs hold h_{t-1}/c_{t-1} at index t, so the backward finds them without copies.
    """
    xt = _time_major(x)                                # (T, N, D)
    T, N, D = xt.shape
    H = h0.shape[1]
    dt = Wx.dtype
    k = np.full(4 * H, -1.0, dtype=dt)
    k[3 * H:] = -2.0                                   # exp(-z) for i, f, o; exp(-2z) for g
    Whk = Wh * k
    gates = np.empty((T, N, 4 * H), dtype=dt)
    np.matmul(xt.reshape(T * N, D), Wx * k, out=gates.reshape(T * N, 4 * H))
    gates += b * k
    hs = np.empty((T + 1, N, H), dtype=dt)             # hs[0] = h0, hs[t+1] = h_t
    cs = np.empty((T + 1, N, H), dtype=dt)             # cs[0] = c0, cs[t+1] = c_t
    tcs = np.empty((T, N, H), dtype=dt)                # tanh(c_t)
    hs[0], cs[0] = h0, c0
    tmp = np.empty((N, 4 * H), dtype=dt)
    ig = np.empty((N, H), dtype=dt)
    with np.errstate(over="ignore"):                   # exp(+large) = inf: the right limit
        for t in range(T):
            a = gates[t]
            np.matmul(hs[t], Whk, out=tmp)
            a += tmp                                   # -a_i, -a_f, -a_o, -2 a_g
            np.exp(a, out=a)
            a += 1.0
            np.reciprocal(a, out=a)                    # i, f, o, sigmoid(2 a_g)
            i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            g *= 2.0
            g -= 1.0                                   # g = tanh(a_g)
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)               # c_t = f * c_{t-1} + i * g
            np.multiply(i, g, out=ig)
            c += ig
            _tanh(c, out=tcs[t])                       # h_t = o * tanh(c_t)
            np.multiply(o, tcs[t], out=hs[t + 1])
    cache = (xt, hs, cs, tcs, gates, Wx, Wh)
    return _batch_major(hs[1:]), hs[T].copy(), cs[T].copy(), cache


def lstm_backward(dh, cache, dhT=None, dcT=None, dh_out=None, dc_out=None):
    """Backward through ``lstm_forward``.

    dh (N, T, H): upstream gradient of every h_t (from the layer above);
    dhT, dcT (N, H): optional gradients of the final states (None = zero).
    ->  dx (N, T, D), dh0 (N, H), dc0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)
    dh_out, dc_out: optional (T, N, H) arrays that receive the total gradients of each
    h_t and c_t, for looking at gradient flow through time.

    Only dh_t and dc_t flow backward through time; every other factor of the gate
    gradients is known from the forward pass. So those factors are computed for all T
    at once before the loop (large vectorised passes), and the loop does a handful of
    operations per step:

        dh_t = dh[t] + dh_next                     dc_t = dc_next + dh_t * o (1 - tanh(c)^2)
        di = dc_t * [g i (1 - i)]                  df = dc_t * [c_{t-1} f (1 - f)]
        do = dh_t * [tanh(c) o (1 - o)]            dg = dc_t * [i (1 - g^2)]
        dh_next = da Wh^T                          dc_next = dc_t * f
    """
    xt, hs, cs, tcs, gates, Wx, Wh = cache
    T, N, D = xt.shape
    H = hs.shape[2]
    dt = gates.dtype
    i, f, o, g = (gates[..., k * H:(k + 1) * H] for k in range(4))
    # da starts as the bracketed local factors above and becomes d(pre-activation) in place.
    da = np.empty((T, N, 4 * H), dtype=dt)
    sig = gates[..., :3 * H]
    np.subtract(1.0, sig, out=da[..., :3 * H])
    da[..., :3 * H] *= sig                             # s (1 - s) for i, f, o at once
    da[..., :H] *= g
    da[..., H:2 * H] *= cs[:-1]
    da[..., 2 * H:3 * H] *= tcs
    dg = da[..., 3 * H:]
    np.multiply(g, g, out=dg)
    np.subtract(1.0, dg, out=dg)
    dg *= i                                            # i (1 - g^2)
    oc = np.multiply(tcs, tcs)
    np.subtract(1.0, oc, out=oc)
    oc *= o                                            # o (1 - tanh(c)^2), how h_t feeds c_t

    dhs = _time_major(dh)                              # (T, N, H)
    dnext_h = np.zeros((N, H), dt) if dhT is None else dhT.astype(dt, copy=True)
    dc = np.zeros((N, H), dt) if dcT is None else dcT.astype(dt, copy=True)
    dh_t = np.empty((N, H), dtype=dt)
    tmp = np.empty((N, H), dtype=dt)
    WhT = Wh.T                                         # a view: BLAS reads it transposed
    for t in reversed(range(T)):
        d = da[t]
        np.add(dhs[t], dnext_h, out=dh_t)              # h_t feeds the layer above and step t+1
        np.multiply(dh_t, oc[t], out=tmp)
        dc += tmp                                      # dc_t
        if dh_out is not None:
            dh_out[t] = dh_t
        if dc_out is not None:
            dc_out[t] = dc
        d[:, 2 * H:3 * H] *= dh_t                      # do
        d[:, :2 * H].reshape(N, 2, H)[...] *= dc[:, None, :]   # di, df
        d[:, 3 * H:] *= dc                             # dg
        np.matmul(d, WhT, out=dnext_h)                 # to h_{t-1}
        dc *= f[t]                                     # to c_{t-1}
    da2 = da.reshape(T * N, 4 * H)
    dx = (da2 @ Wx.T).reshape(T, N, D)
    # Weight gradients: one large GEMM over all T*N rows instead of T small ones.
    dWx = xt.reshape(T * N, D).T @ da2
    dWh = hs[:-1].reshape(T * N, H).T @ da2
    db = da2.sum(0)
    return _batch_major(dx), dnext_h, dc, dWx, dWh, db


# --------------------------------------------------------------------------- output

def temporal_affine_forward(x, W, b):
    """x (N, T, H), W (H, V), b (V,)  ->  out (N, T, V), cache."""
    xt = _time_major(x)
    T, N, H = xt.shape
    out = (xt.reshape(T * N, H) @ W).reshape(T, N, -1)
    out += b
    return _batch_major(out), (xt, W)


def temporal_affine_backward(dout, cache):
    """dout (N, T, V)  ->  dx (N, T, H), dW (H, V), db (V,)."""
    xt, W = cache
    T, N, H = xt.shape
    d2 = _time_major(dout).reshape(T * N, -1)
    dx = (d2 @ W.T).reshape(T, N, H)
    return _batch_major(dx), xt.reshape(T * N, H).T @ d2, d2.sum(0)


def temporal_softmax_loss(x, y, mask=None):
    """Softmax cross-entropy over time, mean over the N*T predictions.

    x (N, T, V) logits, y (N, T) integer targets, mask (N, T) optional boolean (False = skip)
    ->  loss (float, nats per character), dx (N, T, V)

    Stable for any logits: the row maximum is subtracted before exp.
    """
    xt = _time_major(x)                                # (T, N, V)
    T, N, V = xt.shape
    logits = xt.reshape(T * N, V)
    yt = y.T.reshape(-1)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    Z = probs.sum(axis=1, keepdims=True)
    logp_y = shifted[np.arange(T * N), yt] - np.log(Z[:, 0])
    probs /= Z
    if mask is None:
        count = T * N
        loss = -logp_y.sum() / count
    else:
        m = mask.T.reshape(-1)
        count = max(int(m.sum()), 1)
        loss = -logp_y[m].sum() / count
    probs[np.arange(T * N), yt] -= 1                   # d(loss)/d(logits) = p - onehot(y)
    if mask is not None:
        probs *= m[:, None]
    probs /= count
    return float(loss), _batch_major(probs.reshape(T, N, V))


# --------------------------------------------------------------------------- dropout

def dropout_forward(x, p, rng):
    """Inverted dropout: zero each unit with probability p, scale the rest by 1/(1-p).

    x (N, T, H), p in [0, 1), rng a np.random.Generator  ->  out, cache (the mask).
    With p == 0 it is the identity (mask None).
    """
    if p == 0:
        return x, None
    mask = (rng.random(x.shape, dtype=np.float64) >= p).astype(x.dtype)
    mask /= 1 - p
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout if mask is None else dout * mask
