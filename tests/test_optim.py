"""Optimizers against hand-computed updates; clipping; learning-rate schedules."""

import math

import numpy as np
import pytest

from charlstm.optim import (Adagrad, Adam, RMSprop, SGD, clip_grads, global_norm,
                            learning_rate, make_optimizer)


def one_step(opt_cls, p0, g, lr, **kw):
    params = {"w": np.array(p0, dtype=np.float64)}
    opt = opt_cls(params, **kw)
    opt.step(params, {"w": np.array(g, dtype=np.float64)}, lr)
    return params["w"], opt


def test_sgd_momentum_by_hand():
    params = {"w": np.array([1.0, -2.0])}
    opt = SGD(params, momentum=0.5)
    opt.step(params, {"w": np.array([0.2, 0.4])}, 0.1)   # v = -0.02, -0.04
    np.testing.assert_allclose(params["w"], [0.98, -2.04])
    opt.step(params, {"w": np.array([0.2, 0.4])}, 0.1)   # v = 0.5 v - lr g = -0.03, -0.06
    np.testing.assert_allclose(params["w"], [0.95, -2.10])


def test_adagrad_by_hand():
    w, opt = one_step(Adagrad, [1.0, 1.0], [2.0, -0.5], 0.1)
    np.testing.assert_allclose(w, [1 - 0.1 * 2 / math.sqrt(4 + 1e-8), 1 + 0.1 * 0.5 / math.sqrt(0.25 + 1e-8)])
    np.testing.assert_allclose(opt.state["mem"]["w"], [4.0, 0.25])


def test_rmsprop_by_hand():
    w, _ = one_step(RMSprop, [1.0], [2.0], 0.01, alpha=0.9)
    s = 0.1 * 4.0
    np.testing.assert_allclose(w, [1 - 0.01 * 2 / (math.sqrt(s) + 1e-8)])


def test_adam_by_hand_two_steps():
    params = {"w": np.array([0.5])}
    opt = Adam(params)
    w, m, v = 0.5, 0.0, 0.0
    for t, g in enumerate([0.3, -0.1], start=1):
        opt.step(params, {"w": np.array([g])}, 0.01)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= 0.01 * (m / (1 - 0.9 ** t)) / (math.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        np.testing.assert_allclose(params["w"], [w], rtol=1e-12)


@pytest.mark.parametrize("name,lr", [("adam", 0.05), ("adagrad", 0.5), ("rmsprop", 0.01), ("sgd", 0.05)])
def test_each_optimizer_decreases_a_quadratic(name, lr):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6))
    A = A @ A.T + np.eye(6)
    params = {"x": rng.standard_normal(6)}
    f = lambda x: 0.5 * x @ A @ x
    start = f(params["x"])
    opt = make_optimizer(name, params)
    for _ in range(200):
        opt.step(params, {"x": A @ params["x"]}, lr)
    assert f(params["x"]) < 0.01 * start


def test_state_dict_round_trip():
    params = {"a": np.ones(3), "b": np.ones((2, 2))}
    opt = Adam(params)
    opt.step(params, {"a": np.ones(3), "b": np.ones((2, 2))}, 0.1)
    d = opt.state_dict()
    assert set(d) == {"t", "m/a", "m/b", "v/a", "v/b"}
    fresh = Adam(params)
    fresh.load_state_dict(d)
    assert fresh.t == 1 and np.array_equal(fresh.state["m"]["b"], opt.state["m"]["b"])


def test_clip_by_global_norm_reports_pre_clip_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}
    assert global_norm(g) == 5.0
    assert clip_grads(g, 1.0) == 5.0
    assert abs(global_norm(g) - 1.0) < 1e-6
    np.testing.assert_allclose(g["a"] / g["b"][0, 1], [0.75, 0.0])   # direction kept
    h = {"a": np.array([0.3, -0.4])}
    assert clip_grads(h, 1.0) == pytest.approx(0.5) and h["a"][1] == -0.4   # below: untouched
    big = {"a": np.array([3.0, 4.0])}
    assert clip_grads(big, 0) == 5.0 and big["a"][1] == 4.0                 # 0 disables


def test_clip_by_value():
    g = {"a": np.array([-3.0, 0.5, 2.0])}
    clip_grads(g, 1.0, mode="value")
    np.testing.assert_array_equal(g["a"], [-1.0, 0.5, 1.0])


def test_schedules():
    assert learning_rate(0.1, 500) == 0.1
    assert learning_rate(0.1, 0, schedule="step", epoch=5, decay=0.5, decay_every=2) == 0.1 * 0.25
    assert learning_rate(0.1, 0, schedule="cosine", total_steps=100) == pytest.approx(0.1)
    assert learning_rate(0.1, 50, schedule="cosine", total_steps=100) == pytest.approx(0.05)
    assert learning_rate(0.1, 100, schedule="cosine", total_steps=100, min_lr=0.01) == pytest.approx(0.01)
    assert learning_rate(0.1, 0, warmup=10) == pytest.approx(0.01)
    assert learning_rate(0.1, 9, warmup=10) == pytest.approx(0.1)


@pytest.mark.parametrize("schedule,half", [("linear", 0.5), ("cosine", 0.5)])
def test_decaying_schedules_follow_progress_to_min_lr(schedule, half):
    from charlstm.optim import learning_rate
    lr = lambda p, **kw: learning_rate(1.0, 1000, schedule=schedule, progress=p, min_lr=0.1, **kw)
    assert lr(0.0) == 1.0 and lr(1.0) == pytest.approx(0.1) and lr(2.0) == pytest.approx(0.1)
    assert lr(0.5) == pytest.approx(0.1 + 0.9 * half)
    if schedule == "cosine":
        assert lr(0.25) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4)))
    else:
        assert lr(0.25) == pytest.approx(0.1 + 0.9 * 0.75)
    # by steps when no progress is given: the post-warm-up share of total_steps
    assert learning_rate(1.0, 60, schedule=schedule, total_steps=110, warmup=10) == pytest.approx(0.5)
    assert learning_rate(1.0, 4, schedule=schedule, total_steps=110, warmup=10) == pytest.approx(0.5)
