"""Pure forward/backward pairs: the pieces a character-level RNN is built from.

Every layer is a ``*_forward`` function that returns its output and a cache, and a
``*_backward`` function that takes the upstream gradient and the cache and returns the
gradients of the forward's inputs, in the order the forward took them.

Shapes use N (batch), T (time), D (input size), H (hidden size), V (vocabulary).

Memory layout: sequence arrays are *logically* (N, T, F) as in the classic coursework
API (F features: D, H or V), but the sequence layers store them feature-major,
(F, T, N), and hand back a transposed view. That way
- each big product is one GEMM over all T*N columns (input projections, ``dx``, weight
  gradients, the output layer), with no copies in between;
- the slice for one time step, ``a[:, t]`` (F, N), is a matrix BLAS reads in place;
- passing one layer's output to the next costs no copy: ``_feature_major`` of such a view
  is free. Any (N, T, F) array works as input; other layouts are copied once.
Inside the LSTM the per-step gates are kept (T, 4H, N): ``gates[t][:H]`` is the input
gate of every unit and sequence, one contiguous block, so the element-wise work of a
time step runs on contiguous memory.

Every sequence layer takes an optional ``ws`` (a ``Workspace``) that keeps its big
arrays from one call to the next; see there.
"""

from __future__ import annotations

import numpy as np

from . import fused                                    # optional compiled LSTM steps (numba)


# --------------------------------------------------------------------------- helpers

def sigmoid(x, out=None):
    """Logistic sigmoid, stable for any |x| (no overflow in exp): 0.5 * (1 + tanh(x / 2)).

    ``out`` may be ``x`` itself, for an in-place update.
    """
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _feature_major(x):
    """(N, T, F) -> (F, T, N) whose (T, N) part is one block of T*N columns.

    Free (a view) when x is a view of feature-major storage, as every sequence layer
    returns; otherwise one copy. The rows may be further apart than T*N (a slice such as
    ``hs[:, 1:]``): BLAS and the ufuncs take that stride as it is.
    """
    a = np.transpose(x, (2, 1, 0))
    s = a.itemsize
    if a.strides[2] != s or a.strides[1] != a.shape[2] * s or a.strides[0] < a.shape[1] * a.shape[2] * s:
        a = np.ascontiguousarray(a)
    return a


def _logical(a):
    """(F, T, N) storage -> the (N, T, F) view the API speaks in."""
    return np.transpose(a, (2, 1, 0))


def _columns(a):
    """(F, T, N) -> (F, T*N) view: one column per (t, n)."""
    return a.reshape(a.shape[0], -1)


class Workspace:
    """Big scratch arrays kept from one call to the next, by name.

    A training loop runs the same shapes every step. Fresh multi-megabyte arrays come
    from new pages of memory, and the first write to each page costs a page fault: on
    the large benchmark configuration that was about 10% of a training step. A layer
    given a workspace takes its arrays from it instead. What the layer returns (its
    output, its cache, the ``dx`` of its backward) then lives in the workspace and stays
    valid until the next forward call with the same workspace: use one per layer.
    """

    def __init__(self):
        self._arrays = {}

    def empty(self, name, shape, dtype):
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[name] = np.empty(shape, dtype)
        return a


def _empty(ws, name, shape, dtype):
    return np.empty(shape, dtype) if ws is None else ws.empty(name, shape, dtype)


# --------------------------------------------------------------------------- embedding

def embedding_forward(x, W):
    """Look up a vector for each character id.

    Equivalent to one-hot(x) @ W, done as a column gather from W.T.

    x: (N, T) integer ids in [0, V); W: (V, D)  ->  out (N, T, D), cache
    """
    out = np.ascontiguousarray(W.T[:, x.T])           # (D, T, N), feature-major
    return _logical(out), (x, W.shape)


def embedding_backward(dout, cache):
    """dout (N, T, D) -> dW (V, D) = one-hot(x)^T @ dout, over all N*T positions.

    For a character vocabulary the one-hot matrix is small and this is one GEMM. For a
    big vocabulary (a one-hot matrix of over 2M entries) one sort-free ``np.bincount``
    scatters the rows instead. Both are far faster than ``np.add.at``.
    """
    x, (V, D) = cache
    d = _columns(_feature_major(dout))                 # (D, T*N), columns in (t, n) order
    idx = x.T.reshape(-1)                              # the id of each column
    M = idx.size
    if M * V <= 1 << 21:
        onehot_T = np.zeros((V, M), dtype=d.dtype)
        onehot_T[idx, np.arange(M)] = 1
        # d @ one-hot, (D, V), then transposed: OpenBLAS runs this form 20-25% faster than
        # one-hot^T @ d.T when V is far smaller than D (measured for V = 65, D = 4H).
        return np.ascontiguousarray((d @ onehot_T.T).T)
    # Offset each column's id by row so one bincount scatters the whole matrix into dW.T.
    flat = (np.arange(D)[:, None] * V + idx).reshape(-1)
    dWT = np.bincount(flat, weights=d.reshape(-1).astype(np.float64, copy=False),
                      minlength=D * V)
    return np.ascontiguousarray(dWT.reshape(D, V).T, dtype=dout.dtype)


class Embedded:
    """A first layer's input given as ids and an embedding table: x = W[ids], never built.

    Any sequence layer takes one in place of x (N, T, D). Its input projection for all
    steps, Wx^T x_t + b, is then a lookup in the (V, G) table W Wx + b (G = 4H for the
    LSTM): a gather instead of a GEMM over all T*N columns, and no (N, T, D) embedding
    array. The backward sums each step's d(pre-activation) by character id (as
    ``embedding_backward`` sums dx: one GEMM with the one-hot matrix) and returns the
    gradient of W, (V, D), where it would return dx; dWx = W^T (that sum). Worth it when V is small next to 2D: the model
    uses it for a character vocabulary when the embedding is not dropped out.
    """

    def __init__(self, ids, W):
        self.ids, self.W = ids, W                      # (N, T) ints, (V, D)
        self.shape = (*ids.shape, W.shape[1])          # as the x it stands for: (N, T, D)


def _input_projection(x, Wx, b, out):
    """out (G, T, N) = Wx^T x_t + b for every step; -> the input as the backward needs it
    (feature-major (D, T, N), or the Embedded itself)."""
    if isinstance(x, Embedded):
        table = x.W @ Wx                               # (V, G): each character's projection
        table += b
        # mode="clip" after checking the range ourselves: take's default mode, "raise",
        # writes to a buffer and copies it into out (a third of the lookup's time at G = 2048).
        V = table.shape[0]
        if x.ids.size and (x.ids.min() < 0 or x.ids.max() >= V):
            raise IndexError(f"character ids must be in [0, {V}), got {x.ids.min()}..{x.ids.max()}")
        np.take(np.ascontiguousarray(table.T), x.ids.T, axis=1, out=out, mode="clip")
        return x
    X = _feature_major(x)                              # (D, T, N)
    np.matmul(Wx.T, _columns(X), out=_columns(out))
    out += b[:, None, None]
    return X


def _input_backward(X, Wx, dA2, ws):
    """From dA2 (G, T*N) = d(Wx^T x_t + b): -> dx (N, T, D) and dWx (D, G); for an
    Embedded input, dW (V, D) of its table in place of dx."""
    if isinstance(X, Embedded):
        N, T = X.ids.shape
        G = dA2.shape[0]
        # Summed by character: the embedding's own backward, with G features for D.
        per_char = embedding_backward(_logical(dA2.reshape(G, T, N)), (X.ids, (X.W.shape[0], G)))
        return per_char @ Wx.T, X.W.T @ per_char      # (V, G) -> dW (V, D), dWx (D, G)
    D, T, N = X.shape
    dX = _empty(ws, "dX", (D, T, N), dA2.dtype)
    np.matmul(Wx, dA2, out=_columns(dX))
    return _logical(dX), _columns(X) @ dA2.T


# --------------------------------------------------------------------------- vanilla RNN

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step of a tanh RNN: next_h = tanh(x Wx + prev_h Wh + b).

    x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,)  ->  next_h (N, H), cache
    """
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """dnext_h (N, H) -> dx, dprev_h, dWx, dWh, db."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)                   # through tanh
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(0)


def rnn_forward(x, h0, Wx, Wh, b, ws=None):
    """A tanh RNN over a whole sequence.

    x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,)
    ->  h (N, T, H), hT (N, H) final hidden state, cache
    """
    N, T, D = x.shape
    H = h0.shape[1]
    dt = Wx.dtype
    # Input projections for all steps in one GEMM, outside the time loop.
    pre = _empty(ws, "pre", (H, T, N), dt)
    X = _input_projection(x, Wx, b, pre)
    hs = _empty(ws, "hs", (H, T + 1, N), dt)           # hs[:, 0] = h0, hs[:, t+1] = h_t
    hs[:, 0] = h0.T
    WhT = np.ascontiguousarray(Wh.T)
    for t in range(T):
        h = hs[:, t + 1]
        np.matmul(WhT, hs[:, t], out=h)
        h += pre[:, t]
        np.tanh(h, out=h)
    return _logical(hs[:, 1:]), hs[:, T].T.copy(), (X, hs, Wx, Wh, ws)


def rnn_backward(dh, cache, dhT=None, dh_out=None):
    """dh (N, T, H) upstream gradient of every h_t; dhT (N, H) optional gradient of hT.

    ->  dx (N, T, D), dh0 (N, H), dWx, dWh, db
    dh_out: optional (T, N, H) array that receives the total gradient of each h_t
    (from above and from step t+1), for looking at gradient flow through time.
    """
    X, hs, Wx, Wh, ws = cache
    H, T1, N = hs.shape
    T = T1 - 1
    dt = hs.dtype
    dhs = _feature_major(dh)                           # (H, T, N)
    da = _empty(ws, "da", (H, T, N), dt)               # d(pre-activation)
    np.multiply(hs[:, 1:], hs[:, 1:], out=da)
    np.subtract(1.0, da, out=da)                       # tanh' = 1 - h^2, for all steps
    dnext = np.zeros((H, N), dt) if dhT is None else np.array(dhT.T, dt, order="C")
    dh_t = np.empty((H, N), dt)
    for t in reversed(range(T)):
        np.add(dhs[:, t], dnext, out=dh_t)
        if dh_out is not None:
            dh_out[t] = dh_t.T
        a = da[:, t]
        a *= dh_t                                      # through tanh
        np.matmul(Wh, a, out=dnext)
    da2 = _columns(da)
    dx, dWx = _input_backward(X, Wx, da2, ws)          # all steps in one GEMM each
    dWh = _columns(hs[:, :-1]) @ da2.T
    return dx, dnext.T.copy(), dWx, dWh, da2.sum(1)


# --------------------------------------------------------------------------- GRU

def gru_step_forward(x, prev_h, Wx, Wh, b, bh):
    """One GRU step in the form PyTorch and cuDNN use, gates fused in the order r, z, n.

        ax = x Wx + b,   ah = prev_h Wh                  (N, 3H) each
        r = sigmoid(ax[:, :H] + ah[:, :H])               reset gate
        z = sigmoid(ax[:, H:2H] + ah[:, H:2H])           update gate
        n = tanh(ax[:, 2H:] + r * (ah[:, 2H:] + bh))     candidate
        h_t = (1 - z) * n + z * h_{t-1}

    The reset gate scales the recurrent candidate term *after* its matrix product, and
    that term has a bias of its own, bh. Cho et al. (2014) reset before the product,
    n = tanh(x W_n + (r * h_{t-1}) U_n + b_n): a different model, whose product cannot be
    fused with the gates'. Here one GEMM, prev_h Wh, serves all three. b is the input-side
    bias (for r and z it stands for PyTorch's b_ih + b_hh; for n it is b_in).

    x (N, D), prev_h (N, H), Wx (D, 3H), Wh (H, 3H), b (3H,), bh (H,)
    ->  next_h (N, H), cache
    """
    H = prev_h.shape[1]
    ax, ah = x @ Wx + b, prev_h @ Wh
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    hn = ah[:, 2 * H:] + bh                            # recurrent candidate term, before r
    n = np.tanh(ax[:, 2 * H:] + r * hn)
    next_h = (1 - z) * n + z * prev_h
    return next_h, (x, prev_h, Wx, Wh, r, z, n, hn)


def gru_step_backward(dnext_h, cache):
    """dnext_h (N, H) -> dx, dprev_h, dWx, dWh, db, dbh."""
    x, prev_h, Wx, Wh, r, z, n, hn = cache
    dn = dnext_h * (1 - z) * (1 - n ** 2)              # through h = (1-z) n + z h, n = tanh
    dz = dnext_h * (prev_h - n) * z * (1 - z)          # through h and z = sigmoid
    dr = dn * hn * r * (1 - r)                         # r scales the recurrent term
    dax = np.hstack([dr, dz, dn])                      # d(x Wx + b)
    dah = np.hstack([dr, dz, dn * r])                  # d(prev_h Wh); its n part + bh
    dprev_h = dnext_h * z + dah @ Wh.T                 # prev_h feeds h_t and the gates
    dbh = dah[:, 2 * z.shape[1]:].sum(0)               # bh is added to the recurrent term
    return dax @ Wx.T, dprev_h, x.T @ dax, prev_h.T @ dah, dax.sum(0), dbh


def gru_forward(x, h0, Wx, Wh, b, bh, ws=None):
    """A GRU over a whole sequence (same equations as ``gru_step_forward``).

    x (N, T, D), h0 (N, H), Wx (D, 3H), Wh (H, 3H), b (3H,), bh (H,)
    ->  h (N, T, H), hT (N, H) final hidden state, cache

    As in ``lstm_forward``: the input projections of all T steps are one GEMM before the
    loop; the loop works on contiguous (3H, N) gate blocks with the recurrent GEMM
    Wh^T h_{t-1} and writes h_t to contiguous blocks, laid out feature-major after the
    loop; the gates are kept, (T, 3H, N), for the backward.
    """
    N, T, D = x.shape
    H = h0.shape[1]
    dt = Wx.dtype
    ax = _empty(ws, "pre", (3 * H, T, N), dt)          # Wx^T x_t + b, every step
    X = _input_projection(x, Wx, b, ax)
    gates = _empty(ws, "gates", (T, 3 * H, N), dt)     # r, z, n of each step
    hn = _empty(ws, "hn", (T, H, N), dt)               # Wh_n^T h_{t-1} + bh, before r
    ht = _empty(ws, "ht", (T + 1, H, N), dt)           # ht[0] = h0, ht[t+1] = h_t, contiguous
    ht[0] = h0.T
    WhT = np.ascontiguousarray(Wh.T)                   # (3H, H)
    ah = np.empty((3 * H, N), dtype=dt)
    for t in range(T):
        g = gates[t]
        rz, n, h = g[:2 * H], g[2 * H:], ht[t + 1]
        np.matmul(WhT, ht[t], out=ah)
        np.add(ax[:2 * H, t], ah[:2 * H], out=rz)
        sigmoid(rz, out=rz)                            # r, z
        np.add(ah[2 * H:], bh[:, None], out=hn[t])
        np.multiply(g[:H], hn[t], out=n)
        n += ax[2 * H:, t]
        np.tanh(n, out=n)                              # n
        np.subtract(ht[t], n, out=h)                   # h_t = n + z (h_{t-1} - n)
        h *= g[H:2 * H]
        h += n
    hs = _empty(ws, "hs", (H, T + 1, N), dt)           # feature-major, as lstm_forward
    np.copyto(hs, ht.transpose(1, 0, 2))
    return _logical(hs[:, 1:]), ht[T].T.copy(), (X, hs, gates, hn, Wx, Wh, ws)


def gru_backward(dh, cache, dhT=None, dh_out=None):
    """Backward through ``gru_forward``.

    dh (N, T, H): upstream gradient of every h_t; dhT (N, H): optional gradient of the
    final state.  ->  dx (N, T, D), dh0 (N, H), dWx (D, 3H), dWh (H, 3H), db (3H,), bh (H,)
    dh_out: optional (T, N, H) array that receives the total gradient of each h_t.

    Only dh_t flows back through time. The other factors are computed for all T first:

        dn = dh_t * [(1 - z)(1 - n^2)]     dz = dh_t * [(h_{t-1} - n) z (1 - z)]
        dr = dn * [hn r (1 - r)]           dh_{t-1} = dh_t z + Wh [dr, dz, dn r]
    """
    X, hs, gates, hn, Wx, Wh, ws = cache
    H, T1, N = hs.shape
    T = T1 - 1
    dt = gates.dtype
    r, z, n = (gates[:, k * H:(k + 1) * H] for k in range(3))      # (T, H, N) each
    hprev = hs[:, :-1].transpose(1, 0, 2)              # (T, H, N) view: h_{t-1}
    dax = _empty(ws, "da", (T, 3 * H, N), dt)          # local factors, then d(pre-activation)
    fr, fz, fn = dax[:, :H], dax[:, H:2 * H], dax[:, 2 * H:]
    np.multiply(r, hn, out=fr)
    fr *= 1 - r                                        # hn r (1 - r)
    np.subtract(hprev, n, out=fz)
    fz *= z
    fz *= 1 - z                                        # (h_{t-1} - n) z (1 - z)
    np.multiply(n, n, out=fn)
    np.subtract(1.0, fn, out=fn)
    fn *= 1 - z                                        # (1 - z)(1 - n^2)
    dhn = _empty(ws, "dhn", (T, H, N), dt)             # d(hn) = dn r
    dhs = _empty(ws, "dhs", (T, H, N), dt)
    np.copyto(dhs, _feature_major(dh).transpose(1, 0, 2))
    Wh_rz, Wh_n = np.ascontiguousarray(Wh[:, :2 * H]), np.ascontiguousarray(Wh[:, 2 * H:])
    dnext = np.zeros((H, N), dt) if dhT is None else np.array(dhT.T, dt, order="C")
    dh_t = np.empty((H, N), dtype=dt)
    tmp = np.empty((H, N), dtype=dt)
    for t in reversed(range(T)):
        d = dax[t]
        np.add(dhs[t], dnext, out=dh_t)                # h_t feeds the layer above and step t+1
        if dh_out is not None:
            dh_out[t] = dh_t.T
        d[2 * H:] *= dh_t                              # dn
        d[H:2 * H] *= dh_t                             # dz
        d[:H] *= d[2 * H:]                             # dr
        np.multiply(d[2 * H:], r[t], out=dhn[t])       # d(hn)
        np.matmul(Wh_rz, d[:2 * H], out=dnext)         # to h_{t-1}: through the gates
        np.matmul(Wh_n, dhn[t], out=tmp)
        dnext += tmp
        np.multiply(dh_t, z[t], out=tmp)               # and directly, h_t = ... + z h_{t-1}
        dnext += tmp
    dA = _empty(ws, "pre", (3 * H, T, N), dt)          # the forward's ax is free again
    np.copyto(dA, dax.transpose(1, 0, 2))
    dA2 = _columns(dA)                                 # (3H, T*N): d(x Wx + b)
    dx, dWx = _input_backward(X, Wx, dA2, ws)
    dA[2 * H:] = dhn.transpose(1, 0, 2)                # now d(h Wh): [dr, dz, d(hn)]
    dWh = _columns(hs[:, :-1]) @ dA2.T
    db = np.concatenate([dA2[:2 * H].sum(1), dax[:, 2 * H:].sum((0, 2))])
    dbh = dA2[2 * H:].sum(1)
    return dx, dnext.T.copy(), dWx, dWh, db, dbh


# --------------------------------------------------------------------------- LSTM

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step, gates fused into one (N, 4H) matrix in the order i, f, o, g.

        a = x Wx + prev_h Wh + b
        i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2H]), sigmoid(a[:, 2H:3H])
        g = tanh(a[:, 3H:])
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    x (N, D), prev_h (N, H), prev_c (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,)
    ->  next_h (N, H), next_c (N, H), cache
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b                       # (N, 4H) gate pre-activations
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """dnext_h, dnext_c (N, H) -> dx, dprev_h, dprev_c, dWx, dWh, db."""
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)         # c feeds h = o*tanh(c) too
    da = np.hstack([dc * g * i * (1 - i),              # input gate
                    dc * prev_c * f * (1 - f),         # forget gate
                    dnext_h * tc * o * (1 - o),        # output gate
                    dc * i * (1 - g ** 2)])            # candidate
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(0)


def lstm_forward(x, h0, c0, Wx, Wh, b, ws=None):
    """An LSTM over a whole sequence (same equations as ``lstm_step_forward``).

    x (N, T, D), h0 (N, H), c0 (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,)
    ->  h (N, T, H), hT (N, H), cT (N, H) final states, cache

    Speed tricks, each keeping the step function's math:
    - the input projection x Wx + b for all T steps is one GEMM before the loop;
    - one tanh gives all four gates: sigmoid(z) = (1 + tanh(z / 2)) / 2, so the factor
      1/2 of the i, f, o columns is folded into copies of Wx, Wh and b, and one call
      over the step's (4H, N) block computes tanh(a_i / 2), ..., tanh(a_g). (NumPy 2's
      float32 tanh is vectorised: 0.4 ns per element here, faster than its exp, so
      this beats exp-based sigmoids, which need an add and a reciprocal more);
    - the loop works on (4H, N) blocks (see the module docstring): the recurrent GEMM is
      Wh^T h_{t-1}, which BLAS runs faster than h_{t-1} Wh for a small batch, and each
      gate is one contiguous block;
    - every array a step reads or writes is contiguous: h_t goes to its own (H, N)
      block of a (T+1, H, N) buffer, and one copy after the loop lays the h_t out
      feature-major, (H, T+1, N), for the next layer and the weight gradients.
      (Writing h_t straight into that layout, a strided (H, N) slice, made the step's
      product and its last multiply about 35% of the step at H = 128);
    - the gate activations overwrite the pre-activations in place, in one (T, 4H, N)
      buffer, which the backward reads;
    - hs and cs hold h_{t-1}/c_{t-1} at index t, so the backward finds them without copies.

    With numba installed (``pip install 'charlstm[fast]'``) the loop below runs compiled,
    one call a step (``_lstm_forward_fused``, ``fused.py``); this NumPy loop is the reference.
    """
    N, T, D = x.shape
    H = h0.shape[1]
    dt = Wx.dtype
    k = np.full(4 * H, 0.5, dtype=dt)
    k[3 * H:] = 1.0                                    # tanh(z / 2) for i, f, o; tanh(z) for g
    pre = _empty(ws, "pre", (4 * H, T, N), dt)         # k (Wx^T x_t + b), every step
    X = _input_projection(x, Wx * k, b * k, pre)
    kernels = fused.lstm_kernels(dt)
    if kernels is not None:                            # the optional compiled loop (fused.py)
        return _lstm_forward_fused(kernels, X, pre, k, h0, c0, Wx, Wh, ws)
    gates = _empty(ws, "gates", (T, 4 * H, N), dt)
    np.copyto(gates, pre.transpose(1, 0, 2))           # one pass, then contiguous per step
    WhkT = _empty(ws, "WhkT", (4 * H, H), dt)
    np.multiply(Wh.T, k[:, None], out=WhkT)
    ht = _empty(ws, "ht", (T + 1, H, N), dt)           # ht[0] = h0, ht[t+1] = h_t
    cs = _empty(ws, "cs", (T + 1, H, N), dt)           # cs[0] = c0, cs[t+1] = c_t
    tcs = _empty(ws, "tcs", (T, H, N), dt)             # tanh(c_t)
    ht[0], cs[0] = h0.T, c0.T
    tmp = np.empty((4 * H, N), dtype=dt)
    ig = np.empty((H, N), dtype=dt)
    for t in range(T):
        a = gates[t]
        np.matmul(WhkT, ht[t], out=tmp)
        a += tmp                                       # a_i/2, a_f/2, a_o/2, a_g
        np.tanh(a, out=a)
        s = a[:3 * H]
        s *= 0.5
        s += 0.5                                       # i, f, o = (1 + tanh(a/2)) / 2
        i, f, o, g = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        c = cs[t + 1]
        np.multiply(f, cs[t], out=c)                   # c_t = f * c_{t-1} + i * g
        np.multiply(i, g, out=ig)
        c += ig
        np.tanh(c, out=tcs[t])                         # h_t = o * tanh(c_t)
        np.multiply(o, tcs[t], out=ht[t + 1])
    hs = _empty(ws, "hs", (H, T + 1, N), dt)           # feature-major: hs[:, t] = ht[t]
    np.copyto(hs, ht.transpose(1, 0, 2))
    cache = (X, hs, cs, tcs, gates, Wx, Wh, ws)
    return _logical(hs[:, 1:]), ht[T].T.copy(), cs[T].T.copy(), cache


def _lstm_forward_fused(kernels, X, pre, k, h0, c0, Wx, Wh, ws):
    """``lstm_forward``'s loop with the compiled step (see ``fused``): the same arrays and
    cache, but each step is its product and one call, which reads pre (4H, T, N) in place
    and writes h_t to both ht and the feature-major hs, so neither copy is needed."""
    (G, T, N), H = pre.shape, h0.shape[1]
    dt = pre.dtype
    gates = _empty(ws, "gates", (T, G, N), dt)
    WhkT = _empty(ws, "WhkT", (G, H), dt)
    kernels.scaled_transpose(Wh, k, WhkT)              # k Wh^T, in cache-sized tiles
    ht = _empty(ws, "ht", (T + 1, H, N), dt)
    cs = _empty(ws, "cs", (T + 1, H, N), dt)
    tcs = _empty(ws, "tcs", (T, H, N), dt)
    hs = _empty(ws, "hs", (H, T + 1, N), dt)
    ht[0], cs[0], hs[:, 0] = h0.T, c0.T, h0.T
    tmp = np.empty((G, N), dtype=dt)
    for t in range(T):
        np.matmul(WhkT, ht[t], out=tmp)
        kernels.lstm_step_forward(pre, tmp, cs, gates, tcs, ht, hs, t)
    cache = (X, hs, cs, tcs, gates, Wx, Wh, ws)
    return _logical(hs[:, 1:]), ht[T].T.copy(), cs[T].T.copy(), cache


def lstm_backward(dh, cache, dhT=None, dcT=None, dh_out=None, dc_out=None):
    """Backward through ``lstm_forward``.

    dh (N, T, H): upstream gradient of every h_t (from the layer above);
    dhT, dcT (N, H): optional gradients of the final states (None = zero).
    ->  dx (N, T, D), dh0 (N, H), dc0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)
    dh_out, dc_out: optional (T, N, H) arrays that receive the total gradients of each
    h_t and c_t, for looking at gradient flow through time.

    Only dh_t and dc_t flow backward through time; every other factor of the gate
    gradients is known from the forward pass. So those factors are computed for all T
    at once before the loop (large vectorised passes), and the loop does a handful of
    operations per step:

        dh_t = dh[t] + dh_next                     dc_t = dc_next + dh_t * o (1 - tanh(c)^2)
        di = dc_t * [g i (1 - i)]                  df = dc_t * [c_{t-1} f (1 - f)]
        do = dh_t * [tanh(c) o (1 - o)]            dg = dc_t * [i (1 - g^2)]
        dh_next = Wh da                            dc_next = dc_t * f

    After the loop da is copied into one (4H, T*N) matrix, so dx and the weight
    gradients are single GEMMs over all steps. (With numba, ``_lstm_backward_fused`` runs
    the same loop compiled.)
    """
    X, hs, cs, tcs, gates, Wx, Wh, ws = cache
    H, T1, N = hs.shape
    T = T1 - 1
    dt = gates.dtype
    kernels = fused.lstm_kernels(dt)
    if kernels is not None:                            # the optional compiled loop (fused.py)
        return _lstm_backward_fused(kernels, dh, cache, dhT, dcT, dh_out, dc_out)
    i, f, o, g = (gates[:, k * H:(k + 1) * H] for k in range(4))   # (T, H, N) each
    # da starts as the bracketed local factors above and becomes d(pre-activation) in place.
    da = _empty(ws, "da", (T, 4 * H, N), dt)
    sig = gates[:, :3 * H]
    np.subtract(1.0, sig, out=da[:, :3 * H])
    da[:, :3 * H] *= sig                               # s (1 - s) for i, f, o at once
    da[:, :H] *= g
    da[:, H:2 * H] *= cs[:-1]
    da[:, 2 * H:3 * H] *= tcs
    dg = da[:, 3 * H:]
    np.multiply(g, g, out=dg)
    np.subtract(1.0, dg, out=dg)
    dg *= i                                            # i (1 - g^2)
    oc = _empty(ws, "oc", (T, H, N), dt)
    np.multiply(tcs, tcs, out=oc)
    np.subtract(1.0, oc, out=oc)
    oc *= o                                            # o (1 - tanh(c)^2), how h_t feeds c_t

    dhs = _empty(ws, "dhs", (T, H, N), dt)             # dh by time step, contiguous blocks
    np.copyto(dhs, _feature_major(dh).transpose(1, 0, 2))
    dnext_h = np.zeros((H, N), dt) if dhT is None else np.array(dhT.T, dt, order="C")
    dc = np.zeros((H, N), dt) if dcT is None else np.array(dcT.T, dt, order="C")
    dh_t = np.empty((H, N), dtype=dt)
    tmp = np.empty((H, N), dtype=dt)
    for t in reversed(range(T)):
        d = da[t]
        np.add(dhs[t], dnext_h, out=dh_t)              # h_t feeds the layer above and step t+1
        np.multiply(dh_t, oc[t], out=tmp)
        dc += tmp                                      # dc_t
        if dh_out is not None:
            dh_out[t] = dh_t.T
        if dc_out is not None:
            dc_out[t] = dc.T
        d[2 * H:3 * H] *= dh_t                         # do
        d[:2 * H].reshape(2, H, N)[...] *= dc          # di, df
        d[3 * H:] *= dc                                # dg
        np.matmul(Wh, d, out=dnext_h)                  # to h_{t-1}
        dc *= f[t]                                     # to c_{t-1}
    dA = _empty(ws, "pre", (4 * H, T, N), dt)          # the forward's pre is free again
    np.copyto(dA, da.transpose(1, 0, 2))
    dA2 = _columns(dA)                                 # (4H, T*N)
    # dx and the weight gradients: one large GEMM each over all T*N columns.
    dx, dWx = _input_backward(X, Wx, dA2, ws)
    dWh = _columns(hs[:, :-1]) @ dA2.T
    db = dA2.sum(1)
    return dx, dnext_h.T.copy(), dc.T.copy(), dWx, dWh, db


def _lstm_backward_fused(kernels, dh, cache, dhT, dcT, dh_out, dc_out):
    """``lstm_backward`` with the compiled step (see ``fused``): the same loop, the local
    factors computed inside it, d(pre-activation) written straight into the (4H, T, N)
    matrix the weight gradients need."""
    X, hs, cs, tcs, gates, Wx, Wh, ws = cache
    H, T1, N = hs.shape
    T = T1 - 1
    dt = gates.dtype
    dH = np.ascontiguousarray(_feature_major(dh))     # (H, T, N); a copy only if strided
    dA = _empty(ws, "pre", (4 * H, T, N), dt)          # the forward's pre is free again
    dnext_h = np.zeros((H, N), dt) if dhT is None else np.array(dhT.T, dt, order="C")
    dc = np.zeros((H, N), dt) if dcT is None else np.array(dcT.T, dt, order="C")
    dh_t, dc_t = np.empty((H, N), dtype=dt), np.empty((H, N), dtype=dt)
    for t in reversed(range(T)):
        kernels.lstm_step_backward(gates, cs, tcs, dH, dnext_h, dc, dA, dh_t, dc_t, t)
        if dh_out is not None:
            dh_out[t] = dh_t.T
        if dc_out is not None:
            dc_out[t] = dc_t.T
        np.matmul(Wh, dA[:, t], out=dnext_h)           # to h_{t-1}
    dA2 = _columns(dA)                                 # (4H, T*N)
    dx, dWx = _input_backward(X, Wx, dA2, ws)
    dWh = _columns(hs[:, :-1]) @ dA2.T
    return dx, dnext_h.T.copy(), dc.T.copy(), dWx, dWh, dA2.sum(1)


# --------------------------------------------------------------------------- output

def temporal_affine_forward(x, W, b, ws=None):
    """x (N, T, H), W (H, V), b (V,)  ->  out (N, T, V), cache."""
    X = _feature_major(x)                              # (H, T, N)
    H, T, N = X.shape
    out = _empty(ws, "out", (W.shape[1], T, N), W.dtype)
    np.matmul(W.T, _columns(X), out=_columns(out))
    out += b[:, None, None]
    return _logical(out), (X, W, ws)


def temporal_affine_backward(dout, cache):
    """dout (N, T, V)  ->  dx (N, T, H), dW (H, V), db (V,)."""
    X, W, ws = cache
    H, T, N = X.shape
    d = _columns(_feature_major(dout))                 # (V, T*N)
    dX = _empty(ws, "dX", (H, T, N), d.dtype)
    np.matmul(W, d, out=_columns(dX))
    return _logical(dX), _columns(X) @ d.T, d.sum(1)


def temporal_softmax_loss(x, y, mask=None):
    """Softmax cross-entropy over time, mean over the N*T predictions.

    x (N, T, V) logits, y (N, T) integer targets, mask (N, T) optional boolean (False = skip)
    ->  loss (float, nats per character), dx (N, T, V)

    A negative target (-1) is padding, skipped as by the mask (PyTorch's ignore_index):
    the loss is then the mean over the other predictions.
    Stable for any logits: the column maximum is subtracted before exp.
    """
    xf = _feature_major(x)                             # (V, T, N)
    V, T, N = xf.shape
    logits = _columns(xf)                              # one column per prediction
    yt = y.T.reshape(-1)                               # targets in the same (t, n) order
    if mask is None and yt.size and yt.min() < 0:
        mask = y >= 0
    cols = np.arange(T * N)
    shifted = logits - logits.max(axis=0)
    probs = np.exp(shifted)
    Z = probs.sum(axis=0)
    logp_y = shifted[yt, cols] - np.log(Z)
    probs /= Z
    if mask is None:
        count = T * N
        loss = -logp_y.sum() / count
    else:
        m = mask.T.reshape(-1)
        count = max(int(m.sum()), 1)
        loss = -logp_y[m].sum() / count
    probs[yt, cols] -= 1                               # d(loss)/d(logits) = p - onehot(y)
    if mask is not None:
        probs *= m
    probs /= count
    return float(loss), _logical(probs.reshape(V, T, N))


# --------------------------------------------------------------------------- dropout

def dropout_forward(x, p, rng):
    """Inverted dropout: zero each unit with probability p, scale the rest by 1/(1-p).

    x (N, T, H), p in [0, 1), rng a np.random.Generator  ->  out, cache (the mask).
    With p == 0 it is the identity (mask None). The mask is laid out in memory like x,
    so the products run over contiguous memory.
    """
    if p == 0:
        return x, None
    order = np.argsort(x.strides)[::-1]                # x's axes, outermost in memory first
    keep = rng.random(tuple(x.shape[a] for a in order), dtype=np.float32) >= p
    mask = keep.astype(x.dtype)
    mask /= 1 - p
    mask = mask.transpose(np.argsort(order))           # back to x's axes
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout if mask is None else dout * mask
