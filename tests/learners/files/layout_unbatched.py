"""My char-RNN layers: one sequence at a time, no batch axis.

Vectors are 1-D: x (D,), h (H,). A sequence is x (T, D) -> h (T, H); word ids are (T,),
scores (T, V), and the loss sums over time.
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(np.dot(x, Wx) + np.dot(prev_h, Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return np.dot(Wx, da), np.dot(Wh, da), np.outer(x, da), np.outer(prev_h, da), da


def rnn_forward(x, h0, Wx, Wh, b):
    T, D = x.shape
    H = h0.shape[0]
    h = np.zeros((T, H))
    caches, prev = [], h0
    for t in range(T):
        prev, cache = rnn_step_forward(x[t], prev, Wx, Wh, b)
        h[t] = prev
        caches.append(cache)
    return h, caches


def rnn_backward(dh, caches):
    T, H = dh.shape
    D = caches[0][0].shape[0]
    dx = np.zeros((T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dnext = np.zeros(H)
    for t in reversed(range(T)):
        dx[t], dnext, gx, gh, gb = rnn_step_backward(dh[t] + dnext, caches[t])
        dWx, dWh, db = dWx + gx, dWh + gh, db + gb
    return dx, dnext, dWx, dWh, db


def word_embedding_forward(x, W):
    return W[x], (x, W)


def word_embedding_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    for t in range(len(x)):
        dW[x[t]] += dout[t]
    return dW


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[0]
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    i = sigmoid(a[:H])
    f = sigmoid(a[H:2 * H])
    o = sigmoid(a[2 * H:3 * H])
    g = np.tanh(a[3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    di = dc * g * i * (1 - i)
    df = dc * prev_c * f * (1 - f)
    do = dnext_h * tanh_c * o * (1 - o)
    dg = dc * i * (1 - g ** 2)
    da = np.concatenate([di, df, do, dg])
    return np.dot(Wx, da), np.dot(Wh, da), dc * f, np.outer(x, da), np.outer(prev_h, da), da


def lstm_forward(x, h0, Wx, Wh, b):
    T, D = x.shape
    H = h0.shape[0]
    h = np.zeros((T, H))
    prev_h, prev_c = h0, np.zeros(H)
    caches = []
    for t in range(T):
        prev_h, prev_c, cache = lstm_step_forward(x[t], prev_h, prev_c, Wx, Wh, b)
        h[t] = prev_h
        caches.append(cache)
    return h, caches


def lstm_backward(dh, caches):
    T, H = dh.shape
    D = caches[0][0].shape[0]
    dx = np.zeros((T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dnext_h, dnext_c = np.zeros(H), np.zeros(H)
    for t in reversed(range(T)):
        dx[t], dnext_h, dnext_c, gx, gh, gb = lstm_step_backward(dh[t] + dnext_h, dnext_c, caches[t])
        dWx += gx
        dWh += gh
        db += gb
    return dx, dnext_h, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    T, D = x.shape
    return np.dot(x, w) + b, (x, w)


def temporal_affine_backward(dout, cache):
    x, w = cache
    return np.dot(dout, w.T), np.dot(x.T, dout), dout.sum(axis=0)


def temporal_softmax_loss(x, y, mask):
    """x (T, V), y (T,), mask (T,): the loss summed over the counted steps."""
    T, V = x.shape
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.sum(mask * np.log(p[np.arange(T), y]))
    dx = p.copy()
    dx[np.arange(T), y] -= 1
    dx *= mask[:, None]
    return loss, dx
