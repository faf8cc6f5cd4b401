"""The whole model: gradient checks, initial loss, overfitting, dtypes, gradcheck command."""

import numpy as np
import pytest
from typer.testing import CliRunner

from charlstm import layers as Ls
from charlstm.cli import app
from charlstm.errors import ConfigError
from charlstm.gradcheck import check_model
from charlstm.model import CharLSTM, ModelConfig


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
def test_model_gradients_match_finite_differences(cell, layers, lstm_path):
    rows = check_model(cell=cell, layers=layers, hidden=5, N=2, T=3, vocab=6, embed=4)
    names = {r.name for r in rows}
    assert {"embed", "out.W", "out.b", "h0", f"layer{layers - 1}.Wh"} <= names
    assert ("c0" in names) == (cell == "lstm")
    for r in rows:
        assert r.max_rel_error < 1e-7, (r.name, r.max_rel_error)


def test_gradcheck_catches_a_wrong_dWh(monkeypatch):
    good = Ls.lstm_backward

    def broken(*args, **kw):
        dx, dh0, dc0, dWx, dWh, db = good(*args, **kw)
        return dx, dh0, dc0, dWx, dWh * 1.01, db       # a 1% error in one term

    monkeypatch.setattr(Ls, "lstm_backward", broken)
    rows = {r.name: r for r in check_model(cell="lstm", layers=1)}
    assert not rows["layer0.Wh"].ok and rows["layer0.Wx"].ok


def test_fresh_model_loss_is_about_log_v():
    V = 65
    m = CharLSTM(ModelConfig(vocab_size=V, hidden_size=32), seed=1)
    rng = np.random.default_rng(0)
    x = rng.integers(0, V, (8, 20))
    loss, _ = m.loss(x, x, m.init_state(8))
    assert abs(loss - np.log(V)) < 0.1


def test_parameters_are_named_ordered_and_reproducible():
    cfg = ModelConfig(vocab_size=7, hidden_size=6, num_layers=2, embed_size=3)
    a, b = CharLSTM(cfg, seed=3), CharLSTM(cfg, seed=3)
    assert list(a.params) == ["embed", "layer0.Wx", "layer0.Wh", "layer0.b",
                              "layer1.Wx", "layer1.Wh", "layer1.b", "out.W", "out.b"]
    assert a.params["layer0.Wx"].shape == (3, 24) and a.params["layer1.Wx"].shape == (6, 24)
    assert np.all(a.params["layer0.b"][6:12] == 1.0)  # forget-gate bias
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
        assert a.params[k].dtype == np.float32
    assert a.num_params == sum(p.size for p in a.params.values())


def test_step_matches_sequence_forward():
    cfg = ModelConfig(vocab_size=9, hidden_size=7, num_layers=2, embed_size=5)
    m = CharLSTM(cfg, seed=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 9, (3, 6))
    logits, (hT, cT) = m.forward(x, m.init_state(3))
    state = m.init_state(3)
    for t in range(6):
        step_logits, state = m.step(x[:, t], state)
        np.testing.assert_allclose(step_logits, logits[:, t], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(state[0], hT, rtol=1e-10)
    np.testing.assert_allclose(state[1], cT, rtol=1e-10)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_model_overfits_a_short_string(cell):
    text = "hello world, hello charlstm! "
    vocab = sorted(set(text))
    ids = np.array([vocab.index(ch) for ch in text])
    x, y = ids[None, :-1], ids[None, 1:]
    m = CharLSTM(ModelConfig(vocab_size=len(vocab), hidden_size=32, num_layers=1,
                             embed_size=8, cell=cell), seed=0, dtype=np.float64)
    lr = 0.1
    mem = {k: np.zeros_like(v) for k, v in m.params.items()}
    for _ in range(300):                               # Adagrad, as in min-char-rnn
        loss, grads, _ = m.loss_and_grads(x, y, m.init_state(1))
        for k, g in grads.items():
            mem[k] += g * g
            m.params[k] -= lr * g / np.sqrt(mem[k] + 1e-8)
    assert loss < 0.05


def test_float32_and_float64_agree():
    cfg = ModelConfig(vocab_size=11, hidden_size=16, num_layers=2)
    m64 = CharLSTM(cfg, seed=0, dtype=np.float64)
    m32 = CharLSTM(cfg, seed=0, dtype=np.float32,
                   params={k: v.astype(np.float32) for k, v in m64.params.items()})
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 11, (4, 10)), rng.integers(0, 11, (4, 10))
    l64, g64, _ = m64.loss_and_grads(x, y, m64.init_state(4))
    l32, g32, _ = m32.loss_and_grads(x, y, m32.init_state(4))
    assert abs(l64 - l32) < 1e-5
    for k in g64:
        assert g32[k].dtype == np.float32
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-5)


def test_forward_returns_arrays_the_next_call_does_not_overwrite():
    m = CharLSTM(ModelConfig(vocab_size=7, hidden_size=6, embed_size=3), seed=0)
    x = np.random.default_rng(0).integers(0, 7, (2, 5))
    logits, _ = m.forward(x, m.init_state(2))
    kept = logits.copy()
    m.loss_and_grads(x[:, ::-1], x, m.init_state(2))  # reuses the model's workspaces
    m.forward(x[:, ::-1], m.init_state(2))
    np.testing.assert_array_equal(logits, kept)


def test_dropout_changes_training_loss_not_eval():
    cfg = ModelConfig(vocab_size=5, hidden_size=8, num_layers=2, dropout=0.5)
    m = CharLSTM(cfg, seed=0, dtype=np.float64)
    x = np.random.default_rng(0).integers(0, 5, (2, 7))
    e1, _ = m.loss(x, x, m.init_state(2))
    e2, _ = m.loss(x, x, m.init_state(2))
    t1, *_ = m.loss_and_grads(x, x, m.init_state(2))
    assert e1 == e2 and t1 != e1


@pytest.mark.parametrize("field,value", [("hidden_size", 0), ("num_layers", 0),
                                         ("dropout", 1.0), ("dropout", -0.1), ("cell", "transformer"),
                                         ("embed_size", 0)])
def test_invalid_config_is_refused(field, value):
    with pytest.raises(ConfigError):
        ModelConfig(**{"vocab_size": 5, field: value}).validate()


# ------------------------------------------------------------------ the command

runner = CliRunner()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", ["1", "2"])
def test_gradcheck_command_passes(cell, layers):
    r = runner.invoke(app, ["gradcheck", "--cell", cell, "--layers", layers])
    assert r.exit_code == 0, r.output
    assert "PASSED" in r.output and "FAIL" not in r.output
    assert "layer0.Wh" in r.output and "max rel error" in r.output


def test_gradcheck_command_fails_on_a_broken_backward(monkeypatch):
    good = Ls.lstm_backward

    def broken(dh, cache, dhT=None, dcT=None):
        dx, dh0, dc0, dWx, dWh, db = good(dh, cache, dhT, dcT)
        return dx, dh0, dc0 * 0.5, dWx, dWh, db        # forget the forget gate, half-way

    monkeypatch.setattr(Ls, "lstm_backward", broken)
    r = runner.invoke(app, ["gradcheck", "--cell", "lstm", "--layers", "2"])
    assert r.exit_code == 1, r.output
    assert "FAILED" in r.output and "c0" in r.output.split("FAILED")[1]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_dense_embedding_path_also_matches_finite_differences(cell):
    # A vocabulary above twice the embedding size takes the embedding array and the
    # layer's input GEMM instead of the lookup (Ls.Embedded) the smaller one uses.
    rows = check_model(cell=cell, layers=2, hidden=5, N=2, T=3, vocab=11, embed=4)
    for r in rows:
        assert r.max_rel_error < 1e-7, (r.name, r.max_rel_error)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_uniform_init_is_pytorchs_and_fan_in_is_the_default(cell):
    from charlstm.model import init_params
    cfg = ModelConfig(vocab_size=7, hidden_size=16, embed_size=8, cell=cell)
    fan = init_params(cfg, np.random.default_rng(0), np.float64)
    uni = init_params(cfg, np.random.default_rng(0), np.float64, "uniform")
    k = 1 / 4                                          # 1 / sqrt(H)
    for name, v in uni.items():
        if name == "embed":
            np.testing.assert_array_equal(v, fan["embed"])    # N(0, 1) in both
        elif name.endswith(".b") and name != "out.b":
            assert np.abs(v).max() <= 2 * k and np.abs(v).max() > k   # b_ih + b_hh
        else:
            assert np.abs(v).max() <= k and v.std() > k / 3, name
    if cell == "lstm":
        assert (fan["layer0.b"][16:32] == 1).all()     # fan_in's forget-gate bias
    np.testing.assert_array_equal(CharLSTM(cfg, seed=0, dtype=np.float64).params["layer1.Wh"],
                                  fan["layer1.Wh"])
    assert not np.allclose(CharLSTM(cfg, seed=0, init="uniform").params["layer1.Wh"],
                           fan["layer1.Wh"])
    with pytest.raises(ConfigError, match="--init must be one of"):
        init_params(cfg, np.random.default_rng(0), init="xavier")


def test_a_run_records_its_init_and_trains_from_it(tmp_path):
    from charlstm.train import TrainConfig, train
    from charlstm import checkpoint as ckpt
    text = "".join(np.random.default_rng(0).choice(list("abcde \n"), 6000))
    (tmp_path / "c.txt").write_text(text)
    cfg = TrainConfig(hidden_size=16, embed_size=8, seq_len=8, batch_size=4, max_steps=3,
                      eval_every=3, init="uniform", quiet=True)
    res = train(tmp_path / "c.txt", cfg, run_dir=tmp_path / "r", log=lambda s: None)
    assert ckpt.load(res.run_dir / "latest.npz").meta["train"]["init"] == "uniform"
