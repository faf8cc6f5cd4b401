"""LSTM part of assignment 3: step functions done, working on the sequence forward."""
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    next_h, next_c, cache = None, None, None
    H = prev_h.shape[1]
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    ai, af, ao, ag = np.split(a, 4, axis=1)
    i, f, o, g = sigmoid(ai), sigmoid(af), sigmoid(ao), np.tanh(ag)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c, H)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    dx, dprev_h, dprev_c, dWx, dWh, db = None, None, None, None, None, None
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c, H = cache
    t = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - t * t)
    da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * t * o * (1 - o),
                    dc * i * (1 - g * g)])
    dx, dprev_h, dprev_c = da.dot(Wx.T), da.dot(Wh.T), dc * f
    dWx, dWh, db = x.T.dot(da), prev_h.T.dot(da), da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    h, cache = None, None
    N, T, D = x.shape
    hs, cache = [], []
    prev_h, prev_c = h0, np.zeros_like(h0)
    for t in range(T):
        prev_h, prev_c, c = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        hs.append(prev_h)
        cache.append(c)
    return h, cache


def lstm_backward(dh, cache):
    dx, dh0, dWx, dWh, db = None, None, None, None, None
    #############################################################################
    # TODO: Implement the backward pass for an LSTM over an entire timeseries.  #
    #############################################################################
    pass
    #############################################################################
    #                               END OF YOUR CODE                            #
    #############################################################################
    return dx, dh0, dWx, dWh, db
