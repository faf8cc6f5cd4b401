"""RNN layers, homework 4.

NOTE (from the course page): unlike the original assignment, every sequence
array here is TIME-MAJOR: x is (T, N, D), h is (T, N, H), captions are (T, N).
Step functions are unchanged (N, D) -> (N, H).
"""
import numpy as np


def sigmoid(x):
    return np.exp(-np.logaddexp(0, -x))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """x (N, D), prev_h (N, H) -> next_h (N, H)"""
    next_h = np.tanh(np.dot(x, Wx) + np.dot(prev_h, Wh) + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dpre = (1.0 - next_h ** 2) * dnext_h
    dx = np.dot(dpre, Wx.T)
    dprev_h = np.dot(dpre, Wh.T)
    dWx = np.dot(x.T, dpre)
    dWh = np.dot(prev_h.T, dpre)
    db = dpre.sum(0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """x (T, N, D), h0 (N, H) -> h (T, N, H)"""
    T, N, D = x.shape
    H = h0.shape[1]
    h = np.empty((T, N, H))
    caches = []
    prev = h0
    for t in range(T):
        prev, c = rnn_step_forward(x[t], prev, Wx, Wh, b)
        h[t] = prev
        caches.append(c)
    return h, caches


def rnn_backward(dh, cache):
    """dh (T, N, H) -> dx (T, N, D), dh0 (N, H), dWx, dWh, db"""
    T, N, H = dh.shape
    D = cache[0][2].shape[0]
    dx = np.empty((T, N, D))
    dWx = np.zeros((D, H))
    dWh = np.zeros((H, H))
    db = np.zeros(H)
    dprev = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[t], dprev, a, bb, cc = rnn_step_backward(dh[t] + dprev, cache[t])
        dWx += a
        dWh += bb
        db += cc
    return dx, dprev, dWx, dWh, db


def word_embedding_forward(x, W):
    """x (T, N) integer ids -> out (T, N, D)"""
    out = W[x]
    return out, (x, W.shape[0])


def word_embedding_backward(dout, cache):
    x, V = cache
    dW = np.zeros((V, dout.shape[-1]))
    np.add.at(dW, x, dout)
    return dW


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2*H]), sigmoid(a[:, 2*H:3*H])
    g = np.tanh(a[:, 3*H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    th = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - th * th)
    dai = dc * g * i * (1 - i)
    daf = dc * prev_c * f * (1 - f)
    dao = dnext_h * th * o * (1 - o)
    dag = dc * i * (1 - g * g)
    da = np.hstack([dai, daf, dao, dag])
    dx = np.dot(da, Wx.T)
    dprev_h = np.dot(da, Wh.T)
    dprev_c = dc * f
    dWx = np.dot(x.T, da)
    dWh = np.dot(prev_h.T, da)
    db = da.sum(0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """x (T, N, D), h0 (N, H) -> h (T, N, H); c0 = 0"""
    T, N, D = x.shape
    H = h0.shape[1]
    h = np.empty((T, N, H))
    caches = []
    prev_h, prev_c = h0, np.zeros((N, H))
    for t in range(T):
        prev_h, prev_c, c = lstm_step_forward(x[t], prev_h, prev_c, Wx, Wh, b)
        h[t] = prev_h
        caches.append(c)
    return h, caches


def lstm_backward(dh, cache):
    """dh (T, N, H) -> dx (T, N, D), dh0 (N, H), dWx, dWh, db"""
    T, N, H = dh.shape
    D = cache[0][3].shape[0]
    dx = np.empty((T, N, D))
    dWx = np.zeros((D, 4*H))
    dWh = np.zeros((H, 4*H))
    db = np.zeros(4*H)
    dprev_h = np.zeros((N, H))
    dprev_c = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[t], dprev_h, dprev_c, gWx, gWh, gb = lstm_step_backward(dh[t] + dprev_h, dprev_c, cache[t])
        dWx += gWx
        dWh += gWh
        db += gb
    return dx, dprev_h, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    """x (T, N, D) -> out (T, N, M)"""
    T, N, D = x.shape
    M = b.shape[0]
    out = x.reshape(T * N, D).dot(w).reshape(T, N, M) + b
    cache = x, w, b, out
    return out, cache


def temporal_affine_backward(dout, cache):
    x, w, b, out = cache
    T, N, D = x.shape
    M = b.shape[0]
    dx = dout.reshape(T * N, M).dot(w.T).reshape(T, N, D)
    dw = x.reshape(T * N, D).T.dot(dout.reshape(T * N, M))
    db = dout.sum(axis=(0, 1))
    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
    """x (T, N, V), y (T, N), mask (T, N); summed over time, averaged over the N sequences."""
    T, N, V = x.shape
    x_flat = x.reshape(T * N, V)
    y_flat = y.reshape(T * N)
    mask_flat = mask.reshape(T * N)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(T * N), y_flat])) / N
    dx_flat = probs.copy()
    dx_flat[np.arange(T * N), y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    if verbose:
        print('dx_flat: ', dx_flat.shape)
    dx = dx_flat.reshape(T, N, V)
    return loss, dx
