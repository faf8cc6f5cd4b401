"""Checkpoints: exact round trip, atomic writes, and refusal of anything unsafe or broken."""

import json

import numpy as np
import pytest

from charlstm import checkpoint as ckpt
from charlstm.errors import CharlstmError
from charlstm.model import CharLSTM, ModelConfig
from charlstm.optim import Adam


def make(tmp_path, dtype=np.float64):
    cfg = ModelConfig(vocab_size=4, hidden_size=5, num_layers=2, embed_size=3)
    m = CharLSTM(cfg, seed=0, dtype=dtype)
    opt = Adam(m.params)
    opt.step(m.params, {k: np.ones_like(v) for k, v in m.params.items()}, 0.01)
    meta = {"model": cfg.to_dict(), "vocab": "abc\n", "dtype": np.dtype(dtype).name, "step": 7,
            "rng": m.dropout_rng.bit_generator.state}
    state = m.init_state(2)
    path = tmp_path / "ck.npz"
    ckpt.save(path, meta, m.params, opt.state_dict(), state)
    return path, m, opt


def test_round_trip_is_exact(tmp_path):
    path, m, opt = make(tmp_path)
    ck = ckpt.load(path)
    assert ck.meta["step"] == 7 and ck.meta["version"] == ckpt.VERSION
    assert ck.vocab.chars == "abc\n"
    for k, v in m.params.items():
        assert ck.params[k].dtype == v.dtype and np.array_equal(ck.params[k], v)
    for k, v in opt.state_dict().items():
        assert np.array_equal(ck.optim[k], v)
    rng = np.random.default_rng()
    rng.bit_generator.state = ck.meta["rng"]
    assert rng.random() == m.dropout_rng.random()
    assert ck.model().num_params == m.num_params
    with np.load(path, allow_pickle=False) as z:               # plain arrays only
        assert all(z[k].dtype != object for k in z.files)


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path, m, _ = make(tmp_path)
    before = path.read_bytes()

    def explode(f, **arrays):
        f.write(b"partial garbage")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(OSError):
        ckpt.save(path, {"model": {}}, m.params)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]   # no temporary left


def test_pickled_object_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.npz"
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    np.savez(path, meta=np.array([Evil()], dtype=object))
    with pytest.raises(CharlstmError, match="pickled"):
        ckpt.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("content,match", [
    (b"", "truncated or not an .npz"),
    (b"hello, I am text", "truncated or not an .npz"),
])
def test_garbage_files_are_refused(tmp_path, content, match):
    p = tmp_path / "bad.npz"
    p.write_bytes(content)
    with pytest.raises(CharlstmError, match=match):
        ckpt.load(p)


def test_truncated_checkpoint_is_refused(tmp_path):
    path, *_ = make(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CharlstmError, match="not a valid charlstm checkpoint"):
        ckpt.load(path)


def test_missing_unknown_version_and_foreign_npz(tmp_path):
    with pytest.raises(CharlstmError, match="not found"):
        ckpt.load(tmp_path / "nope.npz")
    with pytest.raises(CharlstmError, match="is a folder"):
        ckpt.load(tmp_path)
    path, m, _ = make(tmp_path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["version"] = 99
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "v99.npz", **arrays)
    with pytest.raises(CharlstmError, match="format version 99"):
        ckpt.load(tmp_path / "v99.npz")
    np.savez(tmp_path / "foreign.npz", weights=np.ones(3))
    with pytest.raises(CharlstmError, match="no metadata"):
        ckpt.load(tmp_path / "foreign.npz")
    del arrays["param/out.b"]
    meta["version"] = 1
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(CharlstmError, match="do not match"):
        ckpt.load(tmp_path / "short.npz")


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_checkpoints_get_the_permissions_of_any_new_file(tmp_path, umask, mode):
    import os
    import stat
    from charlstm import checkpoint as ckpt_mod
    old = os.umask(umask)
    try:
        path = tmp_path / "c.npz"
        ckpt_mod.save(path, {"x": 1}, {"w": np.zeros(3)})
        ckpt_mod.save(path, {"x": 2}, {"w": np.ones(3)})    # replaced: still the same mode
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode == stat.S_IMODE(plain.stat().st_mode)
