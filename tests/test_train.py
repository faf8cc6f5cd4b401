"""End-to-end training on small generated corpora: learning, resume, Ctrl-C, NaN, bad input."""

import csv
import math
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from charlstm import checkpoint as ckpt
from charlstm.cli import app
from charlstm.train import TrainConfig, train

from conftest import BAD_CORPORA_PARAMS, SMALL, make_text, run_cli


def rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def small_cfg(**kw):
    base = dict(hidden_size=32, embed_size=16, num_layers=1, batch_size=8, seq_len=16,
                dropout=0.0, eval_every=20, sample_chars=40, quiet=True,
                lr=2e-3, lr_schedule="constant", warmup_steps=0)
    return TrainConfig(**(base | kw))


def test_training_lowers_loss_well_below_uniform_and_writes_the_run(corpus, tmp_path):
    run = tmp_path / "run"
    res = train(corpus, small_cfg(max_steps=150, lr=1e-2), run_dir=run, log=lambda s: None)
    V = len(set(corpus.read_text()))
    assert res.stopped_by == "steps" and res.step == 150
    assert res.last_val_loss < 0.6 * math.log(V)
    for name in ("config.json", "metrics.csv", "latest.npz", "best.npz", "loss.png", "samples.txt"):
        assert (run / name).is_file(), name
    r = rows(run)
    assert [int(x["step"]) for x in r] == [20, 40, 60, 80, 100, 120, 140, 150]
    assert float(r[-1]["val_bpc"]) == pytest.approx(float(r[-1]["val_loss"]) / math.log(2), rel=1e-5)
    assert float(r[-1]["train_loss"]) < float(r[0]["train_loss"])
    assert float(r[0]["grad_norm"]) > 0 and float(r[0]["chars_per_s"]) > 0
    best = ckpt.load(run / "best.npz")
    assert best.meta["best_val_loss"] == pytest.approx(min(float(x["val_loss"]) for x in r), abs=1e-6)
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "--- step 150" in (run / "samples.txt").read_text()


def test_overfits_a_tiny_repeated_text(tmp_path):
    p = tmp_path / "tiny.txt"
    p.write_text("abcdefgh" * 300)
    res = train(p, small_cfg(max_steps=200, lr=1e-2, batch_size=4, eval_every=100),
                run_dir=tmp_path / "run", log=lambda s: None)
    assert res.last_val_loss < 0.05


@pytest.mark.parametrize("opt", ["adagrad", "rmsprop", "sgd"])
def test_other_optimizers_train(corpus, tmp_path, opt):
    lr = {"adagrad": 0.1, "rmsprop": 3e-3, "sgd": 0.5}[opt]
    res = train(corpus, small_cfg(max_steps=60, optimizer=opt, lr=lr, lr_schedule="step"),
                run_dir=tmp_path / "run", log=lambda s: None)
    V = len(set(corpus.read_text()))
    assert res.last_val_loss < 0.8 * math.log(V)
    ck = ckpt.load(tmp_path / "run" / "latest.npz")
    assert any(k.startswith(("mem/", "sq/", "velocity/")) for k in ck.optim)


def test_resume_is_bit_for_bit_identical(corpus, tmp_path, lstm_path):
    # Step decay changes the rate at the epoch boundary; a cosine horizon would depend on
    # the --max-steps given to each half, so it is not used here.
    cfg = dict(dtype="float64", dropout=0.2, eval_every=5, checkpoint_every=7,
               lr_schedule="step", lr_decay=0.5, warmup_steps=3)
    a, b = tmp_path / "a", tmp_path / "b"
    # 50 steps at 8x16 is more than one epoch (42 steps) of this corpus: the reset is crossed.
    train(corpus, small_cfg(max_steps=50, **cfg), run_dir=a, log=lambda s: None)
    first = train(corpus, small_cfg(max_steps=17, **cfg), run_dir=b, log=lambda s: None)
    assert first.step == 17
    # Resume with only the total: every other setting comes from the checkpoint.
    second = train(None, TrainConfig(max_steps=50, quiet=True), resume=b,
                   explicit={"max_steps", "quiet"}, log=lambda s: None)
    assert second.step == 50 and second.epoch == 1
    ca, cb = ckpt.load(a / "latest.npz"), ckpt.load(b / "latest.npz")
    for k in ca.params:
        assert np.array_equal(ca.params[k], cb.params[k]), k
    for k in ca.optim:
        assert np.array_equal(ca.optim[k], cb.optim[k]), k
    strip = lambda rs: {r["step"]: {k: v for k, v in r.items() if k not in ("chars_per_s", "elapsed_s", "eval_s")}
                        for r in rs}
    ra, rb = strip(rows(a)), strip(rows(b))
    assert set(rb) - set(ra) == {"17"} and set(ra) <= set(rb)   # b also evaluated where it stopped
    for step, r in ra.items():
        if step == "20":
            # The row at 17 started a new gradient-norm window (steps 18-20 instead of
            # 16-20); the smoothed train loss is carried in the checkpoint, so it is equal.
            r.pop("grad_norm"), rb[step].pop("grad_norm")
        assert r == rb[step], step


def test_resume_refuses_changed_model_flags(corpus, tmp_path, runner):
    run = tmp_path / "run"
    train(corpus, small_cfg(max_steps=5), run_dir=run, log=lambda s: None)
    r = runner.invoke(app, ["train", "--resume", str(run), "--hidden-size", "64", "--lr", "0.5"])
    assert r.exit_code != 0
    res = run_cli("train", "--resume", run, "--hidden-size", "64", "--lr", "0.5")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "--hidden-size 64 (run has 32)" in res.stderr and "--lr 0.5" in res.stderr
    ok = run_cli("train", "--resume", run, "--max-steps", "8", "--hidden-size", "32", "--quiet")
    assert ok.returncode == 0, ok.stderr
    assert ckpt.load(run / "latest.npz").meta["step"] == 8


def test_existing_run_folder_is_not_clobbered(corpus, tmp_path):
    run = tmp_path / "run"
    train(corpus, small_cfg(max_steps=3), run_dir=run, log=lambda s: None)
    before = (run / "latest.npz").read_bytes()
    res = run_cli("train", corpus, "--run-dir", run, "--max-steps", "2", *SMALL)
    assert res.returncode == 2 and "already exists" in res.stderr and "--resume" in res.stderr
    assert (run / "latest.npz").read_bytes() == before
    res = run_cli("train", corpus, "--run-dir", run, "--max-steps", "2", "--overwrite", *SMALL)
    assert res.returncode == 0 and ckpt.load(run / "latest.npz").meta["step"] == 2


def test_ctrl_c_saves_a_loadable_checkpoint_and_exits_130(corpus, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "charlstm", "train", str(corpus), "--run-dir",
                             str(run), "--minutes", "2", "--eval-every", "1000", *SMALL],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (run / "metrics.csv").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)                                    # let it take some steps
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Resume with: charlstm train --resume" in err and "Traceback" not in err
    ck = ckpt.load(run / "latest.npz")
    assert ck.meta["step"] > 0
    assert (run / "best.npz").exists() and rows(run)[-1]["step"] == str(ck.meta["step"])


def test_nan_stops_with_a_message_and_keeps_finite_weights(corpus, tmp_path):
    run = tmp_path / "run"
    # lr 1e38 overflows float32 within a few updates (tanh gates stay finite at any size,
    # so a merely huge rate gives a huge but finite loss).
    res = run_cli("train", corpus, "--run-dir", run, "--max-steps", "200", "--lr", "1e38",
                  "--grad-clip", "0", "--optimizer", "sgd", "--momentum", "0", "--eval-every", "1",
                  "--weight-decay", "0", *SMALL)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "lower --lr" in res.stderr
    ck = ckpt.load(run / "latest.npz")
    assert 0 < ck.meta["step"] < 200
    assert all(np.isfinite(v).all() for v in ck.params.values())
    if (run / "best.npz").exists():                    # only if some evaluation was finite
        best = ckpt.load(run / "best.npz")
        assert all(np.isfinite(v).all() for v in best.params.values())


def test_weights_that_overflow_are_not_saved_and_the_message_says_so(corpus, tmp_path):
    # lr 1e38 (a twentieth of it in the first warm-up step) with weight decay 100 scales
    # the weights by 1 - 5e38, beyond float32: they overflow in the first update itself,
    # and the next step's loss is NaN.
    run = tmp_path / "run"
    res = run_cli("train", corpus, "--run-dir", run, "--max-steps", "50", "--lr", "1e38",
                  "--optimizer", "sgd", "--momentum", "0", "--weight-decay", "100", *SMALL)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "lower --lr" in res.stderr and "weights overflowed before any checkpoint" in res.stderr
    assert not (run / "latest.npz").exists()
    assert (run / "config.json").exists()              # the run folder is kept


def test_small_corpus_shrinks_streams_with_a_warning(tmp_path):
    p = tmp_path / "small.txt"
    p.write_text(make_text(800))
    res = run_cli("train", p, "--run-dir", tmp_path / "r", "--max-steps", "2", *SMALL)
    assert res.returncode == 0, res.stderr
    assert "warning: the validation split (80 chars)" in res.stderr and "using 4 streams" in res.stderr


def test_too_small_corpus_is_refused(tmp_path):
    p = tmp_path / "tiny.txt"
    p.write_text("hello")
    res = run_cli("train", p, "--run-dir", tmp_path / "r", *SMALL)
    assert res.returncode == 2 and "smallest corpus that works" in res.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flags,match", [
    (["--hidden-size", "0"], "--hidden-size must be at least 1"),
    (["--dropout", "1.0"], "--dropout must be in [0, 1)"),
    (["--lr", "0"], "--lr must be greater than 0"),
    (["--lr", "-1"], "--lr must be greater than 0"),
    (["--seq-len", "0"], "--seq-len must be at least 1"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--val-frac", "1.5"], "--val-frac must be in (0, 1)"),
    (["--optimizer", "lbfgs"], "--optimizer must be one of"),
    (["--dtype", "float16"], "--dtype must be float32 or float64"),
    (["--minutes", "0"], "--minutes must be greater than 0"),
    (["--grad-clip", "-1"], "--grad-clip must be 0"),
    (["--layers", "0"], "--layers must be at least 1"),
    (["--init", "xavier"], "--init must be one of fan_in, uniform"),
])
def test_invalid_values_are_refused_before_any_work(corpus, tmp_path, flags, match):
    res = run_cli("train", corpus, "--run-dir", tmp_path / "r", *flags)
    assert res.returncode == 2, res.stderr
    assert match in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("make,match", BAD_CORPORA_PARAMS)
def test_bad_corpus_is_one_clear_line(tmp_path, make, match):
    res = run_cli("train", make(tmp_path), "--run-dir", tmp_path / "r")
    assert res.returncode == 2 and match in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_resume_of_missing_run_is_refused(tmp_path):
    res = run_cli("train", "--resume", tmp_path / "nope")
    assert res.returncode == 2 and "cannot resume" in res.stderr


def test_resume_keeps_a_best_checkpoint_newer_than_latest(corpus, tmp_path):
    run = tmp_path / "run"
    train(corpus, small_cfg(max_steps=10, eval_every=5, lr=1e-2), run_dir=run, log=lambda s: None)
    # As after a crash between an evaluation and the next latest.npz: best is better.
    best = ckpt.load(run / "best.npz")
    ckpt.save(run / "best.npz", dict(best.meta, best_val_loss=0.001), best.params, best.optim,
              best.state)
    train(None, TrainConfig(max_steps=15, quiet=True), resume=run,
          explicit={"max_steps", "quiet"}, log=lambda s: None)
    assert ckpt.load(run / "best.npz").meta["best_val_loss"] == 0.001
    assert [int(r["step"]) for r in rows(run)] == [5, 10, 15]


def test_periodic_evaluation_scores_a_fixed_slice_and_the_end_the_whole_split(corpus, tmp_path):
    from charlstm.plot import read_metrics
    res = train(corpus, small_cfg(max_steps=12, eval_every=4, eval_chars=100),
                run_dir=tmp_path / "r", log=lambda s: None)
    rs = rows(tmp_path / "r")
    assert [r["step"] for r in rs] == ["4", "8", "12"]
    assert {r["val_chars"] for r in rs} == {rs[0]["val_chars"]} and int(rs[0]["val_chars"]) <= 100
    assert [r["val_full"] for r in rs[:-1]] == ["", ""] and rs[-1]["val_full"]
    assert float(rs[-1]["val_full"]) != float(rs[-1]["val_loss"])   # the whole split differs
    assert abs(res.last_val_loss - float(rs[-1]["val_loss"])) < 1e-6
    m = read_metrics(tmp_path / "r")
    assert m["eval_s"][-1] > 0 and abs(res.full_val_loss - float(rs[-1]["val_full"])) < 1e-6
    # --eval-chars 0: the whole split every time; a resumed run keeps its slice.
    train(corpus, small_cfg(max_steps=4, eval_every=4, eval_chars=0), run_dir=tmp_path / "w",
          log=lambda s: None)
    whole = rows(tmp_path / "w")
    assert int(whole[0]["val_chars"]) > 100 and whole[-1]["val_full"] == whole[-1]["val_loss"]
    train(None, TrainConfig(max_steps=16, eval_every=2, quiet=True), resume=tmp_path / "r",
          explicit={"max_steps", "eval_every", "quiet"}, log=lambda s: None)
    assert {r["val_chars"] for r in rows(tmp_path / "r")} == {rs[0]["val_chars"]}


class FakeClock:
    """Seconds that advance by ``dt`` at every reading: a time budget without waiting."""

    def __init__(self, dt=0.05):
        self.t, self.dt = 1000.0, dt

    def __call__(self):
        self.t += self.dt
        return self.t


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_a_time_budget_decays_the_rate_to_zero_at_the_deadline(corpus, tmp_path, schedule):
    res = train(corpus, small_cfg(minutes=0.1, lr_schedule=schedule, lr=0.01, eval_every=10),
                run_dir=tmp_path / "r", log=lambda s: None, clock=FakeClock())
    assert res.stopped_by == "time"
    lrs = [float(r["lr"]) for r in rows(tmp_path / "r")]
    assert len(lrs) >= 3 and all(a > b for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] < 0.02 * 0.01                        # near zero at the deadline
    assert ckpt.load(tmp_path / "r" / "latest.npz").meta["lr_progress"] == pytest.approx(1.0)


def test_a_resumed_time_budget_continues_the_decay(corpus, tmp_path):
    cfg = small_cfg(minutes=0.1, lr_schedule="linear", lr=0.01, eval_every=10)
    train(corpus, cfg, run_dir=tmp_path / "r", log=lambda s: None, clock=FakeClock())
    # As if the first run had been stopped half-way through its budget:
    path = tmp_path / "r" / "latest.npz"
    ck = ckpt.load(path)
    ckpt.save(path, dict(ck.meta, lr_progress=0.5), ck.params, ck.optim, ck.state)
    lines = []
    train(None, TrainConfig(minutes=0.1, quiet=True), resume=tmp_path / "r",
          explicit={"minutes", "quiet"}, log=lines.append, clock=FakeClock())
    new = [r for r in rows(tmp_path / "r") if int(r["step"]) > ck.meta["step"]]
    assert 0.3 * 0.01 < float(new[0]["lr"]) < 0.5 * 0.01      # from half the peak, down
    assert float(new[-1]["lr"]) < 0.02 * 0.01
    # A finished decay restarts from the peak when resumed with more time.
    lines.clear()
    train(None, TrainConfig(minutes=0.1, quiet=True), resume=tmp_path / "r",
          explicit={"minutes", "quiet"}, log=lines.append, clock=FakeClock())
    assert any("restarts the linear decay" in ln for ln in lines)


def test_a_gru_trains_samples_and_resumes_bit_for_bit(corpus, tmp_path):
    from conftest import run_cli
    cfg = dict(cell="gru", dtype="float64", dropout=0.2, eval_every=4, checkpoint_every=3)
    a, b = tmp_path / "a", tmp_path / "b"
    res = train(corpus, small_cfg(max_steps=12, **cfg), run_dir=a, log=lambda s: None)
    assert res.best_val_loss < math.log(len(set(corpus.read_text())))
    train(corpus, small_cfg(max_steps=5, **cfg), run_dir=b, log=lambda s: None)
    train(None, TrainConfig(max_steps=12, quiet=True), resume=b, explicit={"max_steps", "quiet"},
          log=lambda s: None)
    ca, cb = ckpt.load(a / "latest.npz"), ckpt.load(b / "latest.npz")
    assert ca.model_config.cell == "gru" and "layer0.bh" in ca.params
    for k in ca.params:
        assert np.array_equal(ca.params[k], cb.params[k]), k
    r = run_cli("sample", a / "best.npz", "--length", 50, "--seed", 1)
    assert r.returncode == 0 and len(r.stdout) >= 50
    r = run_cli("info", a / "latest.npz")
    assert r.returncode == 0 and "gru" in r.stdout


def test_the_end_scores_best_npz_on_the_whole_split_too(corpus, tmp_path):
    """best.npz is chosen on the validation slice; at the end it is scored on the whole split
    as well (logged, in the result and in best.npz), not only the last weights."""
    from charlstm.train import TrainData, evaluate
    run, lines = tmp_path / "run", []
    # A learning rate far too high: the loss is best early and worse at the end.
    cfg = small_cfg(max_steps=40, eval_every=4, lr=0.5, grad_clip=50.0, eval_chars=200)
    res = train(corpus, cfg, run_dir=run, log=lines.append)
    best = ckpt.load(run / "best.npz")
    assert res.best_step == best.meta["step"] < res.step            # an older best
    data = TrainData.load(corpus, cfg)
    assert data.val_slice is not data.val_full                      # the slice is not the split
    whole = evaluate(best.model(), data.val_full)
    assert res.best_full_val_loss == pytest.approx(whole, rel=1e-5)
    assert best.meta["full_val_loss"] == pytest.approx(whole, rel=1e-5)
    assert res.full_val_loss != pytest.approx(whole, rel=1e-3)     # the last weights differ
    assert any(f"best.npz (step {res.best_step}) on the whole validation split: {whole:.4f}" in s
               for s in lines)
    assert f"best.npz (step {res.best_step}) on the whole split {whole:.4f}" in lines[-1]


def test_best_npz_saved_at_the_last_evaluation_gets_its_whole_split_figure(corpus, tmp_path):
    """The last step was an evaluation step and best.npz was saved there, before the whole
    split was scored: best.npz still gets the figure (charlstm info shows it)."""
    res = train(corpus, small_cfg(max_steps=8, eval_every=4, lr=1e-2, eval_chars=200),
                run_dir=tmp_path / "r", log=lambda s: None)
    best = ckpt.load(tmp_path / "r" / "best.npz")
    assert best.meta["step"] == res.step == res.best_step == 8
    assert best.meta["full_val_loss"] == pytest.approx(res.full_val_loss) == res.best_full_val_loss
