"""The optional compiled LSTM kernels (charlstm.fused, numba): the same layer as the NumPy
loops. The gradient, parity and resume tests run on both paths through the ``lstm_path``
fixture (conftest.py); these check what is particular to the kernels."""

import os
import subprocess
import sys

import numpy as np
import pytest

from charlstm import fused
from charlstm import layers as Ls
from charlstm.errors import CharlstmError

needs_numba = pytest.mark.skipif(not fused.AVAILABLE, reason="numba is not installed")


@needs_numba
def test_float32_tanh_is_within_7_ulps_everywhere():
    import numba
    from charlstm._numba_kernels import tanh

    @numba.njit(error_model="numpy")
    def apply(x, out):
        for k in range(x.size):
            out[k] = tanh(x[k])
    x = np.concatenate([np.linspace(-10, 10, 400_001), np.geomspace(1e-30, 1e-2, 2_000),
                        -np.geomspace(1e-30, 1e-2, 2_000), [0.0, 50.0, -50.0, 1e30]]).astype(np.float32)
    out = np.empty_like(x)
    apply(x, out)
    exact = np.tanh(x.astype(np.float64))
    ulps = np.abs(out - exact) / np.spacing(np.abs(exact).astype(np.float32))
    assert out.dtype == np.float32 and ulps.max() <= 7, ulps.max()        # 6.6 near |x| = 5.8
    assert np.abs(out - exact).max() < 5e-7
    assert np.all(np.abs(out) <= 1)


def _layer(rng, N, T, D, H, dtype):
    r = lambda *s, scale=1.0: (rng.standard_normal(s) * scale).astype(dtype)
    return (r(N, T, D), r(N, H), r(N, H), r(D, 4 * H, scale=0.3), r(H, 4 * H, scale=0.3),
            r(4 * H), r(N, T, H), r(N, H), r(N, H))


def _both_paths(args):
    x, h0, c0, Wx, Wh, b, dh, dhT, dcT = args
    out = {}
    for on in (False, True):
        prev = fused.use(on)
        try:
            T, N, H = x.shape[1], x.shape[0], h0.shape[1]
            dh_out, dc_out = np.zeros((T, N, H), x.dtype), np.zeros((T, N, H), x.dtype)
            h, hT, cT, cache = Ls.lstm_forward(x, h0, c0, Wx, Wh, b)
            grads = Ls.lstm_backward(dh, cache, dhT, dcT, dh_out=dh_out, dc_out=dc_out)
            out[on] = [a.copy() for a in (h, hT, cT, *grads, dh_out, dc_out)]
        finally:
            fused.use(prev)
    return out[False], out[True]


@needs_numba
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_compiled_layer_equals_the_numpy_layer(dtype, rtol):
    """Forward, backward and the per-step gradients (dh_out, dc_out), on a batch whose
    size is no multiple of a SIMD width."""
    ref, got = _both_paths(_layer(np.random.default_rng(0), N=13, T=9, D=6, H=11, dtype=dtype))
    for a, b in zip(ref, got):
        assert b.dtype == dtype
        scale = np.abs(a).max()
        np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol * scale)


def test_use_without_numba_says_what_to_install(monkeypatch):
    monkeypatch.setattr(fused, "AVAILABLE", False)
    with pytest.raises(CharlstmError, match=r"pip install 'charlstm\[fast\]'"):
        fused.use(True)
    assert fused.use(False) in (True, False)           # off is always possible


def test_the_environment_variable_keeps_the_numpy_path():
    code = "from charlstm import fused; print(fused.active())"
    env = dict(os.environ, CHARLSTM_KERNELS="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "False"
    env.pop("CHARLSTM_KERNELS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == str(fused.AVAILABLE)


@needs_numba
def test_scaled_transpose_is_the_numpy_product_exactly():
    from charlstm._numba_kernels import scaled_transpose
    rng = np.random.default_rng(3)
    W = rng.standard_normal((37, 4 * 37)).astype(np.float32)   # not a multiple of the tile
    k = rng.standard_normal(4 * 37).astype(np.float32)
    out = np.empty((4 * 37, 37), np.float32)
    scaled_transpose(W, k, out)
    assert np.array_equal(out, W.T * k[:, None])


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_the_compiled_adamw_step_is_the_numpy_passes_to_the_bit(dtype, weight_decay):
    from charlstm.optim import Adam, take_step
    rng = np.random.default_rng(4)
    shapes = {"layer0.Wx": (5, 12), "layer0.b": (12,), "embed": (7, 5), "out.W": (3, 7)}
    start = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    # Five steps each way from the same start, the rate changing as a schedule would.
    finals = []
    for on in (True, False):
        params = {k: v.copy() for k, v in start.items()}
        opt = Adam(params)
        prev = fused.use(on)
        try:
            for s in range(5):
                grads = {k: np.random.default_rng(s).standard_normal(v.shape).astype(dtype)
                         for k, v in params.items()}
                take_step(opt, params, grads, 1e-2 * (s + 1), weight_decay)
        finally:
            fused.use(prev)
        finals.append((params, opt.state_dict()))
    (p1, s1), (p2, s2) = finals
    for k in p1:
        assert p1[k].dtype == dtype and np.array_equal(p1[k], p2[k]), k
    for k in s1:
        assert np.array_equal(s1[k], s2[k]), k
    assert not np.array_equal(p1["out.W"], start["out.W"])
    with fused.off():                                  # the kernels off: the NumPy passes run
        assert not Adam(start).step_fused(start, start, 1e-2)
    prev = fused.use(True)
    try:
        assert Adam(start).step_fused(start, start, 1e-2)   # on: the kernel ran
    finally:
        fused.use(prev)
