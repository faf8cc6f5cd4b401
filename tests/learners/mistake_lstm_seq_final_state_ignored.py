"""Recurrent layers for my char-rnn homework (LSTM keeps its state)."""
import numpy as np


def sigmoid(x):
    # split by sign so exp never overflows
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dt = dnext_h * (1.0 - next_h * next_h)
    return dt @ Wx.T, dt @ Wh.T, x.T @ dt, prev_h.T @ dt, dt.sum(0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    hs, caches = [], []
    h = h0
    for t in range(T):
        h, c = rnn_step_forward(x[:, t, :], h, Wx, Wh, b)
        hs.append(h)
        caches.append(c)
    return np.stack(hs, axis=1), caches


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dxs = [None] * T
    dWx, dWh, db = 0, 0, 0
    dnext = np.zeros((N, H))
    for t in reversed(range(T)):
        dxs[t], dnext, a, b_, c = rnn_step_backward(dh[:, t, :] + dnext, cache[t])
        dWx = dWx + a
        dWh = dWh + b_
        db = db + c
    return np.stack(dxs, axis=1), dnext, dWx, dWh, db


def word_embedding_forward(x, W):
    return W[x], (x, W.shape)


def word_embedding_backward(dout, cache):
    x, shape = cache
    dW = np.zeros(shape)
    np.add.at(dW, x.ravel(), dout.reshape(-1, shape[1]))
    return dW


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    gates = x @ Wx + prev_h @ Wh + b
    i = sigmoid(gates[:, :H])
    f = sigmoid(gates[:, H:2 * H])
    o = sigmoid(gates[:, 2 * H:3 * H])
    g = np.tanh(gates[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)
    dgates = np.hstack([
        dc * g * i * (1 - i),            # input gate
        dc * prev_c * f * (1 - f),       # forget gate
        dnext_h * tc * o * (1 - o),      # output gate
        dc * i * (1 - g ** 2),           # candidate
    ])
    dx = dgates @ Wx.T
    dprev_h = dgates @ Wh.T
    dprev_c = dc * f
    dWx = x.T @ dgates
    dWh = prev_h.T @ dgates
    db = dgates.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, c0, Wx, Wh, b):
    """Runs the LSTM over T steps starting at (h0, c0); returns all h plus final h, c."""
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    caches = []
    ht, ct = h0, c0
    for t in range(T):
        ht, ct, c = lstm_step_forward(x[:, t, :], ht, ct, Wx, Wh, b)
        h[:, t, :] = ht
        caches.append(c)
    return h, ht, ct, caches


def lstm_backward(dh, cache, dhT=None, dcT=None):
    """Backward pass through the whole sequence."""
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dnext_h = np.zeros((N, H))
    dnext_c = np.zeros((N, H))
    dx = np.zeros((N, T, D))
    dWx = np.zeros((D, 4 * H))
    dWh = np.zeros((H, 4 * H))
    db = np.zeros(4 * H)
    for t in reversed(range(T)):
        dx[:, t, :], dnext_h, dnext_c, gWx, gWh, gb = lstm_step_backward(dh[:, t, :] + dnext_h, dnext_c, cache[t])
        dWx += gWx
        dWh += gWh
        db += gb
    return dx, dnext_h, dnext_c, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    N, T, D = x.shape
    out = x.reshape(-1, D) @ w + b
    return out.reshape(N, T, -1), (x, w, b)


def temporal_affine_backward(dout, cache):
    x, w, b = cache
    N, T, D = x.shape
    d = dout.reshape(N * T, -1)
    dx = (d @ w.T).reshape(x.shape)
    dw = x.reshape(N * T, D).T @ d
    db = d.sum(0)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    flat = x.reshape(N * T, V)
    rows = np.arange(N * T)
    yf, mf = y.ravel(), mask.ravel()
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.sum(np.log(p[rows, yf])[mf]) / N
    dflat = p.copy()
    dflat[rows, yf] -= 1
    dflat[~mf] = 0
    dflat /= N
    return loss, dflat.reshape(N, T, V)
