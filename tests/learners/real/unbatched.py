# rnn_layers.py adapted for my char-rnn side project: ONE sequence at a time,
# no batch axis.  x is (T, D), hidden states are (T, H), a step works on
# plain vectors x (D,), h (H,).  Based on the cs231n assignment.
import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    # x (D,), prev_h (H,) -> next_h (H,)
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - next_h ** 2)
    dx = Wx.dot(dz)             # (D, H) . (H,) -> (D,)
    dprev_h = Wh.dot(dz)
    dWx = np.outer(x, dz)
    dWh = np.outer(prev_h, dz)
    db = dz.copy()
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    # x (T, D), h0 (H,) -> h (T, H)
    T = x.shape[0]
    h = np.zeros((T, h0.shape[0]))
    cache = []
    hp = h0
    for t in range(T):
        hp, ct = rnn_step_forward(x[t], hp, Wx, Wh, b)
        h[t] = hp
        cache.append(ct)
    return h, cache


def rnn_backward(dh, cache):
    T, H = dh.shape
    D = cache[0][0].shape[0]
    dx = np.zeros((T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dhp = np.zeros(H)
    for t in reversed(range(T)):
        dx[t], dhp, a, c, d = rnn_step_backward(dh[t] + dhp, cache[t])
        dWx += a; dWh += c; db += d
    return dx, dhp, dWx, dWh, db


def word_embedding_forward(x, W):
    # x (T,) ids -> (T, D)
    return W[x], (x, W.shape)


def word_embedding_backward(dout, cache):
    x, shape = cache
    dW = np.zeros(shape)
    np.add.at(dW, x, dout)
    return dW


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    # x (D,), prev_h, prev_c (H,)
    H = prev_h.shape[0]
    a = x.dot(Wx) + prev_h.dot(Wh) + b      # (4H,)
    i = sigmoid(a[:H])
    f = sigmoid(a[H:2 * H])
    o = sigmoid(a[2 * H:3 * H])
    g = np.tanh(a[3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)
    da = np.concatenate([dc * g * i * (1 - i),
                         dc * prev_c * f * (1 - f),
                         dnext_h * tc * o * (1 - o),
                         dc * i * (1 - g ** 2)])
    dx = Wx.dot(da)
    dprev_h = Wh.dot(da)
    dprev_c = dc * f
    dWx = np.outer(x, da)
    dWh = np.outer(prev_h, da)
    db = da
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    # x (T, D), h0 (H,) -> h (T, H); the cell starts at zero
    T = x.shape[0]
    H = h0.shape[0]
    h = np.zeros((T, H))
    hp, cp = h0, np.zeros(H)
    cache = []
    for t in range(T):
        hp, cp, ct = lstm_step_forward(x[t], hp, cp, Wx, Wh, b)
        h[t] = hp
        cache.append(ct)
    return h, cache


def lstm_backward(dh, cache):
    T, H = dh.shape
    D = cache[0][0].shape[0]
    dx = np.zeros((T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dhp, dcp = np.zeros(H), np.zeros(H)
    for t in reversed(range(T)):
        dx[t], dhp, dcp, a, c, d = lstm_step_backward(dh[t] + dhp, dcp, cache[t])
        dWx += a; dWh += c; db += d
    return dx, dhp, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    # x (T, D) -> (T, M)
    out = x.dot(w) + b
    return out, (x, w)


def temporal_affine_backward(dout, cache):
    x, w = cache
    return dout.dot(w.T), x.T.dot(dout), dout.sum(axis=0)


def temporal_softmax_loss(x, y, mask, verbose=False):
    # x (T, V), y (T,), mask (T,); one sequence, so nothing to average over
    T, V = x.shape
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.sum(mask * np.log(p[np.arange(T), y]))
    dx = p.copy()
    dx[np.arange(T), y] -= 1
    dx *= mask[:, None]
    if verbose:
        print('dx: ', dx.shape)
    return loss, dx
