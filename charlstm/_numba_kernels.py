"""The compiled LSTM steps behind ``fused`` (numba). Read ``layers.lstm_forward`` first:
these are its loop bodies, one element at a time.

Written so that LLVM vectorises the loop over the batch (SIMD, as NumPy's own ufuncs
are): ``error_model="numpy"`` drops Python's zero-division checks, constants are float32
(exact for 1 and 1/2, so float64 arrays stay float64 and float32 ones float32), and the
three-dimensional arrays are passed whole with the step index, so their last axis is
known to be contiguous.
"""

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

_jit = numba.njit(nogil=True, cache=True, error_model="numpy")
ONE, HALF = np.float32(1.0), np.float32(0.5)

# tanh in float32 as a rational function (the one Eigen uses for float, as PyTorch's CPU
# kernels do): it vectorises where a call of the C library's tanh would not, and is
# within 7 ulps (4e-7) of the exact value (checked in tests/test_fused.py); NumPy's own is
# within 2.
# float64, the gradient checks' dtype, uses math.tanh.
_A1, _A3, _A5, _A7, _A9, _A11, _A13 = (np.float32(v) for v in (
    4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, 5.12229709037114e-08,
    -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16))
_B0, _B2, _B4, _B6 = (np.float32(v) for v in (
    4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06))
_CLAMP = np.float32(7.90531110763549805)               # beyond it tanh rounds to +-1


def tanh(x):
    """tanh(x) for a float32 or float64 scalar, inside the kernels."""
    return math.tanh(x)


@overload(tanh, inline="always")
def _tanh(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        def tanh32(x):
            x = min(max(x, -_CLAMP), _CLAMP)
            x2 = x * x
            p = ((((((_A13 * x2 + _A11) * x2 + _A9) * x2 + _A7) * x2 + _A5) * x2 + _A3) * x2
                 + _A1) * x
            q = ((_B6 * x2 + _B4) * x2 + _B2) * x2 + _B0
            return p / q
        return tanh32
    return lambda x: math.tanh(x)


@_jit
def lstm_step_forward(pre, rec, cs, gates, tcs, ht, hs, t):
    """Step t, after the recurrent product rec (4H, N) = k Wh^T h_{t-1}:
    pre (4H, T, N) = k (Wx^T x + b), k = 1/2 for i, f, o and 1 for g (layers.lstm_forward);
    cs (T+1, H, N) holds c_{t-1} at cs[t].
    -> gates[t] (4H, N) = i, f, o, g; cs[t+1] = c_t; tcs[t] = tanh(c_t); ht[t+1] = h_t,
    and hs[:, t+1] = h_t too, the feature-major copy the next layer reads."""
    H, N = ht.shape[1], ht.shape[2]
    for j in range(H):
        for n in range(N):
            i = HALF + HALF * tanh(pre[j, t, n] + rec[j, n])
            f = HALF + HALF * tanh(pre[H + j, t, n] + rec[H + j, n])
            o = HALF + HALF * tanh(pre[2 * H + j, t, n] + rec[2 * H + j, n])
            g = tanh(pre[3 * H + j, t, n] + rec[3 * H + j, n])
            c = f * cs[t, j, n] + i * g
            tc = tanh(c)
            gates[t, j, n] = i
            gates[t, H + j, n] = f
            gates[t, 2 * H + j, n] = o
            gates[t, 3 * H + j, n] = g
            cs[t + 1, j, n] = c
            tcs[t, j, n] = tc
            ht[t + 1, j, n] = o * tc
            hs[j, t + 1, n] = o * tc


@_jit
def lstm_step_backward(gates, cs, tcs, dH, dnext_h, dc, dA, dh_t, dc_t, t):
    """Step t backward, up to the product Wh d(pre) that carries dh to step t-1:
    gates, cs, tcs as the forward left them; dH (H, T, N) the gradient of every h_t from
    the layer above; dnext_h (H, N) = Wh d(pre) of step t+1; dc (H, N) the gradient of
    c_t from step t+1, updated in place to that of c_{t-1}.
    -> dA[:, t] (4H, N) = d(pre-activation) of step t; dh_t, dc_t (H, N) the total
    gradients of h_t and c_t (for dh_out and dc_out)."""
    H, N = dc.shape
    for j in range(H):
        for n in range(N):
            i = gates[t, j, n]
            f = gates[t, H + j, n]
            o = gates[t, 2 * H + j, n]
            g = gates[t, 3 * H + j, n]
            tc = tcs[t, j, n]
            dh = dH[j, t, n] + dnext_h[j, n]           # from the layer above and step t+1
            d_c = dc[j, n] + dh * o * (ONE - tc * tc)  # c_t feeds h_t = o tanh(c_t) too
            dA[j, t, n] = d_c * g * i * (ONE - i)                      # input gate
            dA[H + j, t, n] = d_c * cs[t, j, n] * f * (ONE - f)        # forget gate
            dA[2 * H + j, t, n] = dh * tc * o * (ONE - o)              # output gate
            dA[3 * H + j, t, n] = d_c * i * (ONE - g * g)              # candidate
            dh_t[j, n] = dh
            dc_t[j, n] = d_c
            dc[j, n] = d_c * f                         # to c_{t-1}


@_jit
def scaled_transpose(W, k, out):
    """out (G, H) = k[:, None] * W.T for W (H, G): the forward's k Wh^T. In 16 x 16 tiles,
    reading W's rows and writing out's columns within a tile, which keeps both in cache:
    3-4x faster than NumPy's element-by-element transposed multiply at H = 256-512."""
    H, G = W.shape
    for j0 in range(0, H, 16):
        for g0 in range(0, G, 16):
            for j in range(j0, min(j0 + 16, H)):
                for g in range(g0, min(g0 + 16, G)):
                    out[g, j] = W[j, g] * k[g]


@_jit
def adamw_update(p, g, m, v, keep, b1, c1, b2, c2, eps_t, lr_t):
    """``take_step``'s decay and Adam update of one parameter in one pass, for flat
    contiguous p, g, m, v: p *= keep, then m = b1 m + c1 g, v = b2 v + c2 g^2,
    p -= lr_t m / (sqrt(v) + eps_t). The same operations in the same order as the NumPy
    passes of ``optim.decay_weights`` and ``optim.Adam.update``, each rounded to the
    arrays' dtype, so the two paths give the same bits."""
    for k in range(p.size):
        gk = g[k]
        mk = m[k] * b1 + gk * c1
        vk = v[k] * b2 + (gk * gk) * c2
        m[k] = mk
        v[k] = vk
        p[k] = p[k] * keep - (mk / (math.sqrt(vk) + eps_t)) * lr_t
