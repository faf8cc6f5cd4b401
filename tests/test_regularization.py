"""Where dropout goes (--embed-dropout) and decoupled weight decay (--weight-decay)."""

import os

import numpy as np
import pytest

from charlstm import checkpoint as ckpt
from charlstm.errors import ConfigError
from charlstm.model import CharLSTM, ModelConfig
from charlstm.optim import decay_weights
from charlstm.train import TrainConfig, train

from conftest import SMALL, run_cli


def masks_of(cfg, train=True):
    m = CharLSTM(cfg, seed=0, dtype=np.float64)
    x = np.random.default_rng(0).integers(0, cfg.vocab_size, (3, 5))
    _, _, (_, _, masks, _) = m._forward(x, m.init_state(3), train)
    return masks                                       # [embedding, after layer 0, ...]


def test_the_embedding_dropout_follows_dropout_unless_set():
    base = dict(vocab_size=6, hidden_size=4, num_layers=2, embed_size=3)
    same = masks_of(ModelConfig(**base, dropout=0.3))
    assert all(m is not None for m in same)
    off = masks_of(ModelConfig(**base, dropout=0.3, embed_dropout=0.0))
    assert off[0] is None and off[1] is not None and off[2] is not None
    only = masks_of(ModelConfig(**base, dropout=0.0, embed_dropout=0.5))
    assert only[0] is not None and only[1] is None and only[2] is None
    # The mask drops about the share asked for and scales the rest.
    big = masks_of(ModelConfig(vocab_size=6, hidden_size=4, embed_size=400, embed_dropout=0.5))
    kept = big[0] != 0
    assert 0.4 < kept.mean() < 0.6 and np.allclose(big[0][kept], 2.0)
    assert all(m is None for m in masks_of(ModelConfig(**base, dropout=0.3), train=False))


@pytest.mark.parametrize("value", [1.0, -0.1])
def test_an_impossible_embedding_dropout_is_refused(value):
    with pytest.raises(ConfigError, match="--embed-dropout"):
        ModelConfig(vocab_size=5, embed_dropout=value).validate()


def test_gradients_with_the_embedding_masks_match_finite_differences(lstm_path):
    """With the dropout generator reset before every pass, the masks are fixed, so the
    loss is a function of the weights that the analytic gradient must match."""
    cfg = ModelConfig(vocab_size=5, hidden_size=4, num_layers=2, embed_size=3, dropout=0.4,
                      embed_dropout=0.6)
    m = CharLSTM(cfg, seed=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 5, (2, 4)), rng.integers(0, 5, (2, 4))
    state = m.init_state(2)
    start = m.dropout_rng.bit_generator.state

    def loss():
        m.dropout_rng.bit_generator.state = start
        return m.loss_and_grads(x, y, state)[0]

    m.dropout_rng.bit_generator.state = start
    _, grads, _ = m.loss_and_grads(x, y, state)
    grads = {k: v.copy() for k, v in grads.items()}
    for name in ("embed", "layer0.Wx", "layer1.Wx"):
        p = m.params[name]
        for idx in [(0, 0), (1, 2), (2, 1)]:
            old = p[idx]
            p[idx] = old + 1e-6
            up = loss()
            p[idx] = old - 1e-6
            down = loss()
            p[idx] = old
            assert abs((up - down) / 2e-6 - grads[name][idx]) < 1e-7, (name, idx)
    # and the embedding mask did drop something, so the test tests it
    m.dropout_rng.bit_generator.state = start
    assert (m._forward(x, state, True)[2][2][0] == 0).any()


def test_weight_decay_shrinks_the_weight_matrices_only():
    cfg = ModelConfig(vocab_size=5, hidden_size=4, num_layers=2, embed_size=3)
    params = CharLSTM(cfg, seed=0, dtype=np.float64).params
    before = {k: v.copy() for k, v in params.items()}
    decay_weights(params, lr=0.1, weight_decay=0.5)
    for k, v in params.items():
        factor = 0.95 if k in ("layer0.Wx", "layer0.Wh", "layer1.Wx", "layer1.Wh", "out.W") else 1.0
        np.testing.assert_array_equal(v, before[k] * factor, err_msg=k)
    decay_weights(params, lr=0.1, weight_decay=0.0)
    np.testing.assert_array_equal(params["out.W"], before["out.W"] * 0.95)


def small(**kw):
    base = dict(hidden_size=32, embed_size=16, num_layers=2, batch_size=8, seq_len=16,
                dropout=0.2, eval_every=20, sample_chars=0, quiet=True, dtype="float64",
                lr=2e-3, lr_schedule="constant", warmup_steps=0)
    return TrainConfig(**(base | kw))


def test_a_run_with_weight_decay_and_no_embedding_dropout_resumes_bit_for_bit(corpus, tmp_path, lstm_path):
    cfg = dict(weight_decay=0.3, embed_dropout=0.0, checkpoint_every=7)
    a, b = tmp_path / "a", tmp_path / "b"
    train(corpus, small(max_steps=20, **cfg), run_dir=a, log=lambda s: None)
    train(corpus, small(max_steps=7, **cfg), run_dir=b, log=lambda s: None)
    train(None, TrainConfig(max_steps=20, quiet=True), resume=b, explicit={"max_steps", "quiet"},
          log=lambda s: None)
    ca, cb = ckpt.load(a / "latest.npz"), ckpt.load(b / "latest.npz")
    assert cb.meta["train"]["weight_decay"] == 0.3 and cb.meta["train"]["embed_dropout"] == 0.0
    for k in ca.params:
        assert np.array_equal(ca.params[k], cb.params[k]), k
    # ... and the decay did something: a run without it ends elsewhere.
    c = tmp_path / "c"
    train(corpus, small(max_steps=20, checkpoint_every=7, embed_dropout=0.0), run_dir=c,
          log=lambda s: None)
    cc = ckpt.load(c / "latest.npz")
    assert np.linalg.norm(cc.params["out.W"]) > np.linalg.norm(ca.params["out.W"])


def test_a_run_saved_before_embed_dropout_existed_resumes_with_its_embedding_dropout(corpus, tmp_path):
    run = tmp_path / "run"
    train(corpus, small(max_steps=5, checkpoint_every=5, dropout=0.3), run_dir=run,
          log=lambda s: None)
    ck = ckpt.load(run / "latest.npz")
    del ck.meta["train"]["embed_dropout"], ck.meta["model"]["embed_dropout"]
    ckpt.save(run / "latest.npz", ck.meta, ck.params, ck.optim, ck.state)
    assert ckpt.load(run / "latest.npz").model_config.input_dropout == 0.3
    train(None, TrainConfig(max_steps=8, quiet=True), resume=run, explicit={"max_steps", "quiet"},
          log=lambda s: None)
    after = ckpt.load(run / "latest.npz")
    assert after.meta["step"] == 8 and after.model_config.input_dropout == 0.3


@pytest.mark.parametrize("flags,message", [
    (["--embed-dropout", "1"], "--embed-dropout must be in [0, 1)"),
    (["--weight-decay", "-0.1"], "--weight-decay must be 0 or more"),
])
def test_bad_regularization_flags_are_one_line_errors(corpus, tmp_path, flags, message):
    res = run_cli("train", corpus, *SMALL, "--max-steps", "2", "--run-dir", tmp_path / "r", *flags)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_the_train_help_shows_each_default():
    # "[default: X]" is Rich markup unless escaped; it once vanished from every option.
    res = run_cli("train", "--help", env=dict(os.environ, COLUMNS="250"))
    assert res.returncode == 0
    for shown in ("[default: 256]", "[default: 0.05]", "[default: 0.0]", "[default: 0]"):
        assert shown in res.stdout, shown
