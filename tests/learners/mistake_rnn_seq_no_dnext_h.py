"""Assignment 3 rnn_layers (vanilla RNN + LSTM)."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---------------- vanilla RNN ----------------

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    z = x @ Wx + prev_h @ Wh + b
    next_h = np.tanh(z)
    cache = {"x": x, "h_prev": prev_h, "Wx": Wx, "Wh": Wh, "h": next_h}
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    dz = dnext_h * (1 - cache["h"] ** 2)
    dx = dz @ cache["Wx"].T
    dprev_h = dz @ cache["Wh"].T
    dWx = cache["x"].T @ dz
    dWh = cache["h_prev"].T @ dz
    db = dz.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    caches = []
    h_t = h0
    for t in range(T):
        h_t, c = rnn_step_forward(x[:, t], h_t, Wx, Wh, b)
        h[:, t] = h_t
        caches.append(c)
    return h, {"steps": caches, "D": x.shape[2]}


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache["D"]
    dx = np.zeros((N, T, D))
    dWx = np.zeros((D, H))
    dWh = np.zeros((H, H))
    db = np.zeros(H)
    dh_next = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dx[:, t], dh_next, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t], cache["steps"][t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dh_next
    return dx, dh0, dWx, dWh, db


# ---------------- embedding ----------------

def word_embedding_forward(x, W):
    out = W[x, :]
    return out, {"x": x, "V": W.shape[0]}


def word_embedding_backward(dout, cache):
    x = cache["x"]
    dW = np.zeros((cache["V"], dout.shape[2]))
    np.add.at(dW, x, dout)
    return dW


# ---------------- LSTM ----------------

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    A = x @ Wx + prev_h @ Wh + b
    i = sigmoid(A[:, 0:H])
    f = sigmoid(A[:, H:2*H])
    o = sigmoid(A[:, 2*H:3*H])
    g = np.tanh(A[:, 3*H:4*H])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = {"x": x, "prev_h": prev_h, "prev_c": prev_c, "Wx": Wx, "Wh": Wh,
             "i": i, "f": f, "o": o, "g": g, "next_c": next_c}
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    i, f, o, g = cache["i"], cache["f"], cache["o"], cache["g"]
    c = cache["next_c"]
    tc = np.tanh(c)

    dc = dnext_c + dnext_h * o * (1 - tc**2)
    dprev_c = dc * f

    di = dc * g * i * (1 - i)
    df = dc * cache["prev_c"] * f * (1 - f)
    do = dnext_h * tc * o * (1 - o)
    dg = dc * i * (1 - g**2)
    dA = np.concatenate([di, df, do, dg], axis=1)

    dx = dA @ cache["Wx"].T
    dprev_h = dA @ cache["Wh"].T
    dWx = cache["x"].T @ dA
    dWh = cache["prev_h"].T @ dA
    db = dA.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    h_t, c_t = h0, np.zeros((N, H))
    caches = []
    for t in range(T):
        h_t, c_t, c = lstm_step_forward(x[:, t], h_t, c_t, Wx, Wh, b)
        h[:, t] = h_t
        caches.append(c)
    return h, {"steps": caches, "D": D}


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    D = cache["D"]
    dx = np.zeros((N, T, D))
    dWx = np.zeros((D, 4*H))
    dWh = np.zeros((H, 4*H))
    db = np.zeros(4*H)
    dh_next = np.zeros((N, H))
    dc_next = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        grads = lstm_step_backward(dh[:, t] + dh_next, dc_next, cache["steps"][t])
        dx[:, t], dh_next, dc_next, dWx_t, dWh_t, db_t = grads
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dh_next
    return dx, dh0, dWx, dWh, db


# ---------------- output layer + loss ----------------

def temporal_affine_forward(x, w, b):
    N, T, D = x.shape
    out = (x.reshape(N * T, D) @ w + b).reshape(N, T, -1)
    return out, {"x": x, "w": w}


def temporal_affine_backward(dout, cache):
    x, w = cache["x"], cache["w"]
    N, T, D = x.shape
    M = w.shape[1]
    d2 = dout.reshape(N * T, M)
    dx = (d2 @ w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T @ d2
    db = d2.sum(axis=0)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    s = x.reshape(N * T, V)
    yy = y.reshape(-1)
    m = mask.reshape(-1)
    s = s - s.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    loss = -(logp[np.arange(N * T), yy] * m).sum() / N
    ds = np.exp(logp)
    ds[np.arange(N * T), yy] -= 1
    ds = ds * m[:, None] / N
    return loss, ds.reshape(N, T, V)
