"""The weight average (--ema-decay): its arithmetic, ema.npz, exact resume, bad input."""

import math

import numpy as np
import pytest

from charlstm import checkpoint as ckpt
from charlstm.optim import WeightAverage
from charlstm.train import TrainConfig, train
from charlstm.train.data import evaluate

from conftest import SMALL, run_cli


def small_cfg(**kw):
    base = dict(hidden_size=32, embed_size=16, num_layers=1, batch_size=8, seq_len=16,
                dropout=0.0, eval_every=20, sample_chars=0, quiet=True,
                lr=2e-3, lr_schedule="constant", warmup_steps=0)
    return TrainConfig(**(base | kw))


def test_the_average_follows_its_formula():
    rng = np.random.default_rng(0)
    decay, steps = 0.99, 60
    weights = [{"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)}
               for _ in range(steps + 1)]
    avg = WeightAverage(weights[0], decay)
    expect = {k: v.copy() for k, v in weights[0].items()}
    for step in range(1, steps + 1):
        avg.update(weights[step], step)
        if step % WeightAverage.EVERY == 0:            # written out again, one scalar at a time
            d = min(decay ** 4, (1 + step) / (10 + step))
            for k in expect:
                expect[k] = d * expect[k] + (1 - d) * weights[step][k]
    for k in expect:
        np.testing.assert_allclose(avg.params[k], expect[k], rtol=1e-12, atol=1e-12)
    assert avg.t == steps // WeightAverage.EVERY
    # It is a copy: the weights it started from are untouched, and it moved away from them.
    assert not np.allclose(avg.params["a"], weights[0]["a"])


def test_the_average_of_constant_weights_is_those_weights():
    w = {"W": np.full((2, 2), 3.0, dtype=np.float32)}
    avg = WeightAverage(w, 0.999)
    for step in range(1, 101):
        avg.update(w, step)
    assert avg.params["W"].dtype == np.float32
    np.testing.assert_array_equal(avg.params["W"], w["W"])


def test_a_run_saves_ema_npz_scored_on_the_whole_split(corpus, tmp_path):
    lines = []
    res = train(corpus, small_cfg(max_steps=60, lr=1e-2), run_dir=tmp_path / "r",
                log=lines.append)
    ema = ckpt.load(tmp_path / "r" / "ema.npz")
    assert ema.meta["weights"] == "ema" and ema.meta["ema_decay"] == 0.999
    assert ema.meta["step"] == 60 and ema.optim == {} and ema.state is None
    latest = ckpt.load(tmp_path / "r" / "latest.npz")
    # The average is in the checkpoint beside the optimizer's state, and is what ema.npz holds.
    for k, v in ema.params.items():
        np.testing.assert_array_equal(latest.optim[f"ema/{k}"], v)
        assert not np.array_equal(latest.params[k], v), k
    # The figure the run reports is ema.npz's loss on the whole split, recomputed here.
    cfg = small_cfg()
    from charlstm.train.data import TrainData
    data = TrainData.load(corpus, cfg)
    assert math.isfinite(res.ema_full_val_loss)
    assert evaluate(ema.model(), data.val_full) == pytest.approx(res.ema_full_val_loss, rel=1e-6)
    assert ema.meta["full_val_loss"] == pytest.approx(res.ema_full_val_loss)
    said = [s for s in lines if s.startswith("ema.npz")]
    assert len(said) == 1 and f"{res.ema_full_val_loss:.4f}" in said[0]
    assert "the lowest is" in said[0] and f"{res.full_val_loss:.4f}" in said[0]


def test_no_average_with_decay_zero(corpus, tmp_path):
    lines = []
    res = train(corpus, small_cfg(max_steps=20, ema_decay=0.0), run_dir=tmp_path / "r",
                log=lines.append)
    assert not (tmp_path / "r" / "ema.npz").exists()
    assert math.isnan(res.ema_full_val_loss)
    assert not any("ema" in k for k in ckpt.load(tmp_path / "r" / "latest.npz").optim)
    assert not any("ema.npz" in s for s in lines)


def test_the_average_resumes_bit_for_bit(corpus, tmp_path):
    cfg = dict(dtype="float64", dropout=0.2, eval_every=5, checkpoint_every=7, ema_decay=0.95)
    a, b = tmp_path / "a", tmp_path / "b"
    train(corpus, small_cfg(max_steps=50, **cfg), run_dir=a, log=lambda s: None)
    train(corpus, small_cfg(max_steps=17, **cfg), run_dir=b, log=lambda s: None)   # not a multiple of 4
    train(None, TrainConfig(max_steps=50, quiet=True), resume=b,
          explicit={"max_steps", "quiet"}, log=lambda s: None)
    ea, eb = ckpt.load(a / "ema.npz"), ckpt.load(b / "ema.npz")
    for k in ea.params:
        assert np.array_equal(ea.params[k], eb.params[k]), k
    assert ea.meta["full_val_loss"] == eb.meta["full_val_loss"]


def test_an_older_run_without_the_average_resumes_without_one(corpus, tmp_path):
    run = tmp_path / "r"
    train(corpus, small_cfg(max_steps=12), run_dir=run, log=lambda s: None)
    ck = ckpt.load(run / "latest.npz")
    meta = dict(ck.meta, train={k: v for k, v in ck.meta["train"].items() if k != "ema_decay"})
    optim = {k: v for k, v in ck.optim.items() if not k.startswith("ema/")}
    ckpt.save(run / "latest.npz", meta, ck.params, optim, ck.state)
    (run / "ema.npz").unlink()
    res = train(None, TrainConfig(max_steps=20, quiet=True), resume=run,
                explicit={"max_steps", "quiet"}, log=lambda s: None)
    assert res.step == 20 and not (run / "ema.npz").exists()


def test_ema_npz_samples_evaluates_fine_tunes_but_does_not_resume(corpus, tmp_path):
    run = tmp_path / "r"
    r = run_cli("train", corpus, *SMALL, "--max-steps", "12", "--eval-every", "6",
                "--run-dir", run)
    assert r.returncode == 0, r.stderr
    assert "ema.npz (the weights averaged over about the last" in r.stderr
    ema = run / "ema.npz"
    r = run_cli("sample", ema, "--length", "30", "--seed", "1")
    assert r.returncode == 0 and len(r.stdout.strip()) > 0, r.stderr
    r = run_cli("eval", ema, corpus)
    assert r.returncode == 0 and "nats/char" in r.stdout, r.stderr
    r = run_cli("info", ema)
    assert r.returncode == 0 and "averaged over about the last" in r.stdout, r.stderr
    before = (run / "latest.npz").read_bytes()
    r = run_cli("train", "--resume", ema, "--max-steps", "20")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "holds averaged weights" in r.stderr and "latest.npz" in r.stderr
    assert (run / "latest.npz").read_bytes() == before     # nothing the run had is touched
    r = run_cli("train", corpus, "--init-from", ema, "--max-steps", "4", "--quiet",
                "--sample-chars", "0", "--run-dir", tmp_path / "tuned")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("value", ["1", "-0.1", "1.5", "nan"])
def test_a_bad_decay_is_one_line_and_no_traceback(corpus, tmp_path, value):
    r = run_cli("train", corpus, *SMALL, "--max-steps", "2", "--ema-decay", value,
                "--run-dir", tmp_path / "r")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "--ema-decay must be in [0, 1)" in r.stderr
    assert not (tmp_path / "r").exists()


def test_resume_refuses_another_decay(corpus, tmp_path):
    run = tmp_path / "r"
    assert run_cli("train", corpus, *SMALL, "--max-steps", "4", "--run-dir", run).returncode == 0
    r = run_cli("train", "--resume", run, "--max-steps", "8", "--ema-decay", "0.9")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "--ema-decay" in r.stderr
