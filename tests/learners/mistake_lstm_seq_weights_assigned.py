"""CS231n A3 rnn_layers.py, my version"""
import numpy as np


def sigmoid(x):
    x = np.clip(x, -500, 500)
    return 1 / (1 + np.exp(-x))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    # x: (N, D), prev_h: (N, H), Wx: (D, H), Wh: (H, H), b: (H,)
    xWx = np.matmul(x, Wx)          # (N, H)
    hWh = np.matmul(prev_h, Wh)     # (N, H)
    next_h = np.tanh(xWx + hWh + b)  # (N, H)
    cache = {'x': x, 'prev_h': prev_h, 'Wx': Wx, 'Wh': Wh, 'next_h': next_h}
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    x, prev_h = cache['x'], cache['prev_h']
    Wx, Wh, next_h = cache['Wx'], cache['Wh'], cache['next_h']
    dtanh = (1 - next_h * next_h) * dnext_h   # (N, H)
    dx = np.matmul(dtanh, Wx.T)               # (N, D)
    dprev_h = np.matmul(dtanh, Wh.T)          # (N, H)
    dWx = np.matmul(x.T, dtanh)               # (D, H)
    dWh = np.matmul(prev_h.T, dtanh)          # (H, H)
    db = np.sum(dtanh, axis=0)                # (H,)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = Wh.shape[0]
    h = np.zeros((N, T, H))
    cache = {'steps': [], 'shape': (N, T, D, H)}
    h_prev = h0
    for t in range(T):
        h_prev, step_cache = rnn_step_forward(x[:, t, :], h_prev, Wx, Wh, b)
        h[:, t, :] = h_prev
        cache['steps'].append(step_cache)
    return h, cache


def rnn_backward(dh, cache):
    N, T, D, H = cache['shape']
    dx = np.zeros((N, T, D))
    dh0 = np.zeros((N, H))
    dWx = np.zeros((D, H))
    dWh = np.zeros((H, H))
    db = np.zeros((H,))
    dh_prev = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dh_total = dh[:, t, :] + dh_prev
        dx_t, dh_prev, dWx_t, dWh_t, db_t = rnn_step_backward(dh_total, cache['steps'][t])
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dh_prev
    return dx, dh0, dWx, dWh, db


def word_embedding_forward(x, W):
    # x: (N, T) integers in [0, V), W: (V, D)
    out = W[x, :]                     # (N, T, D)
    cache = {'x': x, 'W': W}
    return out, cache


def word_embedding_backward(dout, cache):
    x, W = cache['x'], cache['W']
    dW = np.zeros_like(W)
    np.add.at(dW, x, dout)
    return dW


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = np.matmul(x, Wx) + np.matmul(prev_h, Wh) + b     # (N, 4H)
    i_gate = sigmoid(a[:, 0:H])
    f_gate = sigmoid(a[:, H:2 * H])
    o_gate = sigmoid(a[:, 2 * H:3 * H])
    g_gate = np.tanh(a[:, 3 * H:4 * H])
    next_c = f_gate * prev_c + i_gate * g_gate           # (N, H)
    next_h = o_gate * np.tanh(next_c)                    # (N, H)
    cache = {'x': x, 'prev_h': prev_h, 'prev_c': prev_c, 'Wx': Wx, 'Wh': Wh,
             'i': i_gate, 'f': f_gate, 'o': o_gate, 'g': g_gate, 'next_c': next_c}
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c = cache['x'], cache['prev_h'], cache['prev_c']
    Wx, Wh = cache['Wx'], cache['Wh']
    i_gate, f_gate, o_gate, g_gate = cache['i'], cache['f'], cache['o'], cache['g']
    next_c = cache['next_c']

    # next_h = o * tanh(next_c)
    d_o_gate = dnext_h * np.tanh(next_c)
    d_next_c = dnext_c + dnext_h * o_gate * (1 - np.tanh(next_c) ** 2)

    # next_c = f * prev_c + i * g
    d_f_gate = d_next_c * prev_c
    dprev_c = d_next_c * f_gate
    d_i_gate = d_next_c * g_gate
    d_g_gate = d_next_c * i_gate

    # gates -> pre-activations
    d_ai = d_i_gate * i_gate * (1 - i_gate)
    d_af = d_f_gate * f_gate * (1 - f_gate)
    d_ao = d_o_gate * o_gate * (1 - o_gate)
    d_ag = d_g_gate * (1 - g_gate ** 2)
    d_a = np.concatenate([d_ai, d_af, d_ao, d_ag], axis=1)   # (N, 4H)

    dx = np.matmul(d_a, Wx.T)               # (N, D)
    dprev_h = np.matmul(d_a, Wh.T)          # (N, H)
    dWx = np.matmul(x.T, d_a)               # (D, 4H)
    dWh = np.matmul(prev_h.T, d_a)          # (H, 4H)
    db = np.sum(d_a, axis=0)                # (4H,)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    cache = {'steps': [], 'shape': (N, T, D, H)}
    h_prev = h0
    c_prev = np.zeros((N, H))   # initial cell state is zero
    for t in range(T):
        h_prev, c_prev, step_cache = lstm_step_forward(x[:, t, :], h_prev, c_prev, Wx, Wh, b)
        h[:, t, :] = h_prev
        cache['steps'].append(step_cache)
    return h, cache


def lstm_backward(dh, cache):
    N, T, D, H = cache['shape']
    dx = np.zeros((N, T, D))
    dWx = np.zeros((D, 4 * H))
    dWh = np.zeros((H, 4 * H))
    db = np.zeros((4 * H,))
    dh_prev = np.zeros((N, H))
    dc_prev = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dh_total = dh[:, t, :] + dh_prev
        dx_t, dh_prev, dc_prev, dWx_t, dWh_t, db_t = lstm_step_backward(dh_total, dc_prev, cache['steps'][t])
        dx[:, t, :] = dx_t
        dWx = dWx_t
        dWh = dWh_t
        db = db_t
    dh0 = dh_prev
    return dx, dh0, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    N, T, D = x.shape
    M = b.shape[0]
    out = np.matmul(x.reshape(N * T, D), w).reshape(N, T, M) + b
    cache = {'x': x, 'w': w, 'b': b}
    return out, cache


def temporal_affine_backward(dout, cache):
    x, w, b = cache['x'], cache['w'], cache['b']
    N, T, D = x.shape
    M = b.shape[0]
    dout2 = dout.reshape(N * T, M)
    dx = np.matmul(dout2, w.T).reshape(N, T, D)
    dw = np.matmul(x.reshape(N * T, D).T, dout2)
    db = dout.sum(axis=(0, 1))
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)
    shifted = x_flat - np.max(x_flat, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted), axis=1, keepdims=True)
    log_probs = shifted - np.log(Z)
    probs = np.exp(log_probs)
    loss = -np.sum(mask_flat * log_probs[np.arange(N * T), y_flat]) / N
    dx_flat = probs.copy()
    dx_flat[np.arange(N * T), y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    dx = dx_flat.reshape(N, T, V)
    return loss, dx
