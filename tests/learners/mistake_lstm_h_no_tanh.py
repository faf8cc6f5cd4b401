"""LSTM layers for the assignment (compact version)."""
import numpy as np
def sigmoid(x): return 1/(1+np.exp(-x))
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    i = sigmoid(a[:, :H]); f = sigmoid(a[:, H:2*H]); o = sigmoid(a[:, 2*H:3*H]); g = np.tanh(a[:, 3*H:])
    next_c = f*prev_c + i*g
    next_h = o*next_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)
def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h*o*(1-tc**2)
    di = dc*g*i*(1-i)
    df = dc*prev_c*f*(1-f)
    do = dnext_h*tc*o*(1-o)
    dg = dc*i*(1-g**2)
    da = np.hstack((di, df, do, dg))
    dx = da.dot(Wx.T); dprev_h = da.dot(Wh.T); dprev_c = dc*f
    dWx = x.T.dot(da)
    dWh = prev_h.T.dot(da); db = np.sum(da, axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db
def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape; H = h0.shape[1]
    h = np.zeros((N, T, H)); prev_h = h0; prev_c = np.zeros_like(h0); caches = []
    for t in range(T):
        prev_h, prev_c, c = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h; caches.append(c)
    return h, (caches, D)
def lstm_backward(dh, cache):
    caches, D = cache
    N, T, H = dh.shape
    dx = np.zeros((N, T, D)); dWx = 0; dWh = 0; db = 0
    dprev_h = np.zeros((N, H)); dprev_c = np.zeros((N, H))
    for t in reversed(range(T)):
        dxt, dprev_h, dprev_c, dWxt, dWht, dbt = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, caches[t])
        dx[:, t] = dxt; dWx = dWx + dWxt; dWh = dWh + dWht; db = db + dbt
    return dx, dprev_h, dWx, dWh, db
