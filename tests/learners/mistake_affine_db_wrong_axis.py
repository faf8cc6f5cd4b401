"""A3 - RNN captioning layers."""
import numpy as np


def sigmoid(x):
    return np.exp(-np.logaddexp(0, -x))


def dsigmoid(z):
    return sigmoid(z) * (1 - sigmoid(z))


#######################################################################
# Vanilla RNN
#######################################################################

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One timestep of a tanh RNN."""
    pre = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    next_h = np.tanh(pre)
    cache = (x, prev_h, Wx, Wh, pre, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, pre, next_h = cache
    dpre = (1 - np.tanh(pre) ** 2) * dnext_h
    dx = np.dot(dpre, Wx.T)
    dprev_h = np.dot(dpre, Wh.T)
    dWx = np.dot(x.T, dpre)
    dWh = np.dot(prev_h.T, dpre)
    db = np.sum(dpre, axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    N, H = h0.shape
    h = np.empty((N, T, H))
    cache = []
    prev = h0
    for t in range(T):
        prev, step_cache = rnn_step_forward(x[:, t, :], prev, Wx, Wh, b)
        h[:, t, :] = prev
        cache.append(step_cache)
    return h, cache


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    x0, _, Wx, Wh, _, _ = cache[0]
    D = x0.shape[1]
    dx = np.empty((N, T, D))
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros(H)
    dh_from_future = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        step = rnn_step_backward(dh[:, t, :] + dh_from_future, cache[t])
        dx[:, t, :] = step[0]
        dh_from_future = step[1]
        dWx += step[2]
        dWh += step[3]
        db += step[4]
    return dx, dh_from_future, dWx, dWh, db


#######################################################################
# Word embedding
#######################################################################

def word_embedding_forward(x, W):
    N, T = x.shape
    out = np.zeros((N, T, W.shape[1]))
    for n in range(N):
        for t in range(T):
            out[n, t] = W[x[n, t]]
    cache = (x, W.shape)
    return out, cache


def word_embedding_backward(dout, cache):
    x, W_shape = cache
    dW = np.zeros(W_shape)
    N, T = x.shape
    for n in range(N):
        for t in range(T):
            dW[x[n, t]] += dout[n, t]
    return dW


#######################################################################
# LSTM
#######################################################################

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    N, H = prev_h.shape
    a = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    a_i, a_f, a_o, a_g = np.split(a, 4, axis=1)
    i = sigmoid(a_i)
    f = sigmoid(a_f)
    o = sigmoid(a_o)
    g = np.tanh(a_g)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (x, prev_h, prev_c, Wx, Wh, a_i, a_f, a_o, a_g, next_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, a_i, a_f, a_o, a_g, next_c = cache
    i, f, o, g = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o), np.tanh(a_g)

    # Step 1: total gradient on the cell
    dc = dnext_c + dnext_h * o * (1 - np.tanh(next_c) ** 2)
    dprev_c = dc * f

    # Step 2: gates
    d_o = dnext_h * np.tanh(next_c) * dsigmoid(a_o)
    d_i = dc * g * dsigmoid(a_i)
    d_f = dc * prev_c * dsigmoid(a_f)
    d_g = dc * i * (1 - np.tanh(a_g) ** 2)

    # Step 3: affine
    da = np.concatenate((d_i, d_f, d_o, d_g), axis=1)
    dx = np.dot(da, Wx.T)
    dprev_h = np.dot(da, Wh.T)
    dWx = np.dot(x.T, da)
    dWh = np.dot(prev_h.T, da)
    db = np.sum(da, axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    xs, hs, cs, acts = [], [h0], [np.zeros((N, H))], []
    for t in range(T):
        a = np.dot(x[:, t, :], Wx) + np.dot(hs[-1], Wh) + b
        a_i, a_f, a_o, a_g = np.split(a, 4, axis=1)
        c = sigmoid(a_f) * cs[-1] + sigmoid(a_i) * np.tanh(a_g)
        ht = sigmoid(a_o) * np.tanh(c)
        h[:, t, :] = ht
        xs.append(x[:, t, :])
        hs.append(ht)
        cs.append(c)
        acts.append((a_i, a_f, a_o, a_g))
    cache = (xs, hs, cs, acts, Wx, Wh)
    return h, cache


def lstm_backward(dh, cache):
    xs, hs, cs, acts, Wx, Wh = cache
    N, T, H = dh.shape
    D = xs[0].shape[1]
    dx = np.zeros((N, T, D))
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros(4 * H)
    dh_next = np.zeros((N, H))
    dc_next = np.zeros((N, H))
    for t in reversed(range(T)):
        a_i, a_f, a_o, a_g = acts[t]
        i, f, o, g = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o), np.tanh(a_g)
        c, c_prev = cs[t + 1], cs[t]
        dht = dh[:, t, :] + dh_next
        dc = dc_next + dht * o * (1 - np.tanh(c) ** 2)
        d_o = dht * np.tanh(c) * dsigmoid(a_o)
        d_i = dc * g * dsigmoid(a_i)
        d_f = dc * c_prev * dsigmoid(a_f)
        d_g = dc * i * (1 - np.tanh(a_g) ** 2)
        da = np.concatenate((d_i, d_f, d_o, d_g), axis=1)
        dx[:, t, :] = np.dot(da, Wx.T)
        dh_next = np.dot(da, Wh.T)
        dc_next = dc * f
        dWx += np.dot(xs[t].T, da)
        dWh += np.dot(hs[t].T, da)
        db += np.sum(da, axis=0)
    dh0 = dh_next
    return dx, dh0, dWx, dWh, db


#######################################################################
# Output layer and loss
#######################################################################

def temporal_affine_forward(x, w, b):
    out = np.einsum('ntd,dm->ntm', x, w) + b
    cache = (x, w, b)
    return out, cache


def temporal_affine_backward(dout, cache):
    x, w, b = cache
    dx = np.einsum('ntm,dm->ntd', dout, w)
    dw = np.einsum('ntd,ntm->dm', x, dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    loss = 0.0
    dx = np.zeros_like(x)
    for n in range(N):
        for t in range(T):
            if not mask[n, t]:
                continue
            scores = x[n, t] - np.max(x[n, t])
            p = np.exp(scores) / np.sum(np.exp(scores))
            loss += -np.log(p[y[n, t]])
            p[y[n, t]] -= 1
            dx[n, t] = p
    loss /= N
    dx /= N
    return loss, dx
