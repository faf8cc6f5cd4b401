"""The batch split over threads (model.BatchSplit): the same numbers as one thread."""

import numpy as np
import pytest

from charlstm import model as M
from charlstm.model import CharLSTM, ModelConfig
from charlstm.train import TrainConfig, train

needs_blas_control = pytest.mark.skipif(not M.blas_threads_settable(),
                                        reason="threadpoolctl cannot set this BLAS's threads")


def _pair(cell, threads, dropout=0.0, N=19):
    cfg = ModelConfig(vocab_size=11, hidden_size=7, num_layers=2, embed_size=5, cell=cell,
                      dropout=dropout)
    one = CharLSTM(cfg, seed=0, dtype=np.float64)
    many = CharLSTM(cfg, seed=0, dtype=np.float64, threads=threads)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 11, (N, 6)), rng.integers(0, 11, (N, 6))
    state = tuple(rng.standard_normal((2, N, 7)) for _ in range(2))
    return one, many, x, y, state


@needs_blas_control
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("threads", [2, 3])
def test_split_batch_gives_the_one_thread_loss_gradients_and_states(cell, threads, lstm_path):
    # N = 19 does not divide evenly: groups of 9-10 (2 threads) or 6-7 (3 threads),
    # so the weighting of each group's share is exercised too.
    one, many, x, y, state = _pair(cell, threads, N=19 if threads == 2 else 24)
    assert many._batch_split(x.shape[0]) is not None
    l1, g1, s1, d1 = one.forward_backward(x, y, state)
    l2, g2, s2, d2 = many.forward_backward(x, y, state)
    assert abs(l1 - l2) < 1e-12
    assert list(g1) == list(g2)
    for k in g1:
        np.testing.assert_allclose(g2[k], g1[k], rtol=1e-10, atol=1e-14, err_msg=k)
    for a, b in zip(s1 + d1, s2 + d2):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-14)
    e1, st1 = one.loss(x, y, state)
    e2, st2 = many.loss(x, y, state)
    assert abs(e1 - e2) < 1e-12
    np.testing.assert_allclose(st2[0], st1[0], rtol=1e-12, atol=1e-14)


@needs_blas_control
def test_split_dropout_is_reproducible_and_drops(lstm_path):
    _, a, x, y, state = _pair("lstm", 2, dropout=0.5)
    _, b, _, _, _ = _pair("lstm", 2, dropout=0.5)
    la, ga, _, _ = a.forward_backward(x, y, state)
    lb, gb, _, _ = b.forward_backward(x, y, state)
    assert la == lb and all(np.array_equal(ga[k], gb[k]) for k in ga)
    lc, _, _, _ = a.forward_backward(x, y, state)     # the next call draws new masks
    plain, _ = a.loss(x, y, state)                     # and evaluation has none
    assert lc != la and plain not in (la, lc)


def test_small_batches_and_one_thread_stay_in_this_thread():
    one, many, x, _, _ = _pair("lstm", 2)
    assert one._batch_split(64) is None
    assert many._batch_split(2 * M.MIN_SEQS_PER_THREAD - 1) is None   # too thin to split
    assert M.auto_threads(128) >= 1 and M.auto_threads(1024) == 1
    auto = CharLSTM(ModelConfig(vocab_size=5, hidden_size=4), threads=0)
    assert auto.threads == M.auto_threads(4)           # 0 asks for the automatic choice


@needs_blas_control
def test_blas_is_one_thread_inside_the_split_and_restored_after():
    from threadpoolctl import threadpool_info
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    seen = []
    _, many, x, y, state = _pair("lstm", 2)
    real = CharLSTM._forward_backward

    def spy(self, *a, **kw):
        seen.append([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"])
        return real(self, *a, **kw)
    CharLSTM._forward_backward = spy
    try:
        many.forward_backward(x, y, state)
    finally:
        CharLSTM._forward_backward = real
    assert len(seen) == 2 and all(s == [1] * len(s) for s in seen)
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before


@needs_blas_control
def test_training_resumes_bit_for_bit_with_threads(corpus, tmp_path, lstm_path):
    cfg = dict(hidden_size=12, embed_size=6, num_layers=2, batch_size=16, seq_len=8,
               dropout=0.3, dtype="float64", eval_every=3, sample_chars=0, quiet=True,
               threads=2, lr_schedule="constant", warmup_steps=0)
    whole = train(corpus, TrainConfig(max_steps=8, **cfg), run_dir=tmp_path / "a",
                  log=lambda s: None)
    train(corpus, TrainConfig(max_steps=4, **cfg), run_dir=tmp_path / "b", log=lambda s: None)
    resumed = train(None, TrainConfig(max_steps=8, **cfg), resume=tmp_path / "b",
                    explicit={"max_steps"}, log=lambda s: None)
    assert whole.full_val_loss == resumed.full_val_loss
    from charlstm import checkpoint as ckpt
    pa, pb = ckpt.load(tmp_path / "a" / "latest.npz").params, ckpt.load(tmp_path / "b" / "latest.npz").params
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_auto_threads_above_256_split_only_batches_of_whole_16_row_blocks(monkeypatch):
    monkeypatch.setattr(M.os, "cpu_count", lambda: 2)
    assert M.auto_threads(256, 50) == 2                # up to 256: any batch
    assert [M.auto_threads(384, n) for n in (32, 64, 128)] == [2, 2, 2]
    assert [M.auto_threads(384, n) for n in (40, 48, 50)] == [1, 1, 1]
    assert M.auto_threads(512, 32) == 2 and M.auto_threads(640, 32) == 1
    m = CharLSTM(ModelConfig(vocab_size=5, hidden_size=384), threads=0)
    if M.blas_threads_settable():
        assert m._batch_split(32).parts == 2
    assert m._batch_split(50) is None                  # a ragged half: one thread, 2-thread BLAS
    forced = CharLSTM(ModelConfig(vocab_size=5, hidden_size=384), threads=2)
    if M.blas_threads_settable():
        assert forced._batch_split(50).parts == 2      # --threads 2 is obeyed
    monkeypatch.setattr(M.os, "cpu_count", lambda: 1)
    assert M.auto_threads(128) == 1 and M.auto_threads(384, 32) == 1
