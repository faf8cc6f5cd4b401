"""Recurrent layers, time-major: every sequence is (T, N, ...), as our course's RNN notes use.

x: (T, N, D), h: (T, N, H), word ids: (T, N), scores: (T, N, V).
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1.0 - next_h * next_h)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    T, N, D = x.shape
    h = np.zeros((T, N, h0.shape[1]))
    caches, prev = [], h0
    for t in range(T):
        prev, cache = rnn_step_forward(x[t], prev, Wx, Wh, b)
        h[t] = prev
        caches.append(cache)
    return h, caches


def rnn_backward(dh, caches):
    T, N, H = dh.shape
    D = caches[0][0].shape[1]
    dx = np.zeros((T, N, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    carry = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dx[t], carry, gx, gh, gb = rnn_step_backward(dh[t] + carry, caches[t])
        dWx += gx
        dWh += gh
        db += gb
    return dx, carry, dWx, dWh, db


def word_embedding_forward(x, W):
    return W[x], (x, W.shape[0])


def word_embedding_backward(dout, cache):
    x, V = cache
    dW = np.zeros((V, dout.shape[-1]))
    np.add.at(dW, x, dout)
    return dW


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)
    da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                         dnext_h * tc * o * (1 - o), dc * i * (1 - g ** 2)], axis=1)
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b):
    T, N, D = x.shape
    h = np.zeros((T, N, h0.shape[1]))
    prev_h, prev_c = h0, np.zeros_like(h0)
    caches = []
    for t in range(T):
        prev_h, prev_c, cache = lstm_step_forward(x[t], prev_h, prev_c, Wx, Wh, b)
        h[t] = prev_h
        caches.append(cache)
    return h, caches


def lstm_backward(dh, caches):
    T, N, H = dh.shape
    D = caches[0][0].shape[1]
    dx = np.zeros((T, N, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[t], dh_next, dc_next, gx, gh, gb = lstm_step_backward(dh[t] + dh_next, dc_next, caches[t])
        dWx += gx
        dWh += gh
        db += gb
    return dx, dh_next, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    T, N, D = x.shape
    out = (x.reshape(T * N, D) @ w + b).reshape(T, N, -1)
    return out, (x, w)


def temporal_affine_backward(dout, cache):
    x, w = cache
    T, N, D = x.shape
    d = dout.reshape(T * N, -1)
    return (d @ w.T).reshape(T, N, D), x.reshape(T * N, D).T @ d, d.sum(axis=0)


def temporal_softmax_loss(x, y, mask):
    """Summed over time, averaged over the batch (N = x.shape[1])."""
    T, N, V = x.shape
    shifted = x - x.max(axis=2, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(logp, y[:, :, None], axis=2)[:, :, 0]
    loss = -(picked * mask).sum() / N
    dx = np.exp(logp)
    np.put_along_axis(dx, y[:, :, None], np.take_along_axis(dx, y[:, :, None], axis=2) - 1, axis=2)
    dx *= mask[:, :, None] / N
    return loss, dx
