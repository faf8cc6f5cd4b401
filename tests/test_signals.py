"""SIGTERM and SIGHUP stop a run as Ctrl-C does: the step is finished, a final evaluation
(limited in time, skipped by a second signal), latest.npz, the resume command, 128 + signal.

Real signals on real runs: sent to a training subprocess, to one in a pseudo-terminal
that is then closed (a hang-up), and to this process from inside a run (at a chosen
moment, so the second-signal and time-limit cases are exact).
"""

import csv
import itertools
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from charlstm import checkpoint as ckpt
from charlstm.train import TrainConfig, train

from conftest import SMALL, run_cli


def rows(run):
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def wait_for_rows(run, proc, n=1, timeout=60):
    """Until metrics.csv has n rows: the run is training."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if (run / "metrics.csv").exists() and len(rows(run)) >= n:
            return
        time.sleep(0.05)
    raise AssertionError("the run did not start training")


# SIGINT: test_train.py; SIGHUP: a closed terminal, below.
@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143)])
def test_sigterm_saves_the_run_like_ctrl_c_and_it_resumes(corpus, tmp_path, sig, status):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "charlstm", "train", str(corpus), "--run-dir",
                             str(run), "--minutes", "2", "--eval-every", "10",
                             "--checkpoint-every", "100000", "--eval-chars", "64", *SMALL],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_rows(run, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    name = sig.name
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert f"stopped by {name}; latest.npz saved. Resume with: charlstm train --resume {run}" in err
    ck = ckpt.load(run / "latest.npz")
    step = ck.meta["step"]
    assert step >= 10                                  # no periodic checkpoint was due
    last = rows(run)[-1]                               # the final evaluation, whole split too
    assert last["step"] == str(step) and last["val_full"] != ""
    assert ck.meta["full_val_loss"] == pytest.approx(float(last["val_full"]), abs=1e-6)
    res = run_cli("train", "--resume", run, "--max-steps", step + 3, "--quiet")
    assert res.returncode == 0, res.stderr
    assert f"resuming at step {step} " in res.stderr
    assert ckpt.load(run / "latest.npz").meta["step"] == step + 3


def test_a_closed_terminal_saves_the_run_and_exits_129(corpus, tmp_path):
    """The terminal goes away (its pseudo-terminal is closed): SIGHUP, then every write to
    it fails. The run still saves latest.npz and exits 129."""
    run = tmp_path / "run"
    args = [sys.executable, "-m", "charlstm", "train", str(corpus), "--run-dir", str(run),
            "--minutes", "2", "--eval-every", "10", "--eval-chars", "64",
            *[a for a in SMALL if a != "--quiet"]]        # the progress bar writes to it too
    pid, fd = pty.fork()
    if pid == 0:                                       # the child: the training, in the terminal
        os.execv(sys.executable, args)
    seen, deadline = b"", time.time() + 60
    while b"step 10 " not in seen and time.time() < deadline:
        if select.select([fd], [], [], 1.0)[0]:
            seen += os.read(fd, 4096)
    os.close(fd)                                       # hang up
    _, status = os.waitpid(pid, 0)
    assert b"step 10 " in seen, seen[-2000:]
    assert os.waitstatus_to_exitcode(status) == 129
    step = ckpt.load(run / "latest.npz").meta["step"]
    assert step >= 10 and rows(run)[-1]["step"] == str(step)   # the final evaluation ran
    assert not list(run.glob(".*tmp*"))                # nothing half-written


def small(**kw):
    return TrainConfig(**{**dict(hidden_size=16, embed_size=8, num_layers=1, batch_size=4,
                                 seq_len=16, dropout=0.0, sample_chars=20, quiet=True,
                                 val_frac=0.5, eval_chars=64, eval_every=4, max_steps=100), **kw})


def signalling(sig, first):
    """A log function that sends ``sig`` to this process at the line starting with
    ``first``, and again when the run says it is stopping; and the lines it saw."""
    logs = []

    def log(line):
        logs.append(line)
        if line.startswith(first) or ": stopping after step" in line:
            os.kill(os.getpid(), sig)
    return log, logs


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_second_signal_skips_the_final_evaluation(corpus, tmp_path, sig):
    run = tmp_path / "run"
    log, logs = signalling(sig, "step 8 ")             # at the evaluation of step 8
    res = train(corpus, small(), run_dir=run, log=log)
    assert res.stopped_by == "interrupt" and res.signal == sig.name and res.step == 8
    assert f"final evaluation cut short (a second {sig.name}): the whole validation split " \
           "was not scored" in logs
    assert rows(run)[-1]["step"] == "8" and rows(run)[-1]["val_full"] == ""
    ck = ckpt.load(run / "latest.npz")
    assert ck.meta["step"] == 8 and ck.meta["full_val_loss"] is None
    assert logs[-1].startswith(f"stopped by {sig.name} at step 8")

    # Before its first evaluation, a second signal leaves nothing to score: no row at all.
    log, logs = signalling(sig, "batches:")            # in the header, before step 1
    res = train(corpus, small(eval_every=1000), run_dir=tmp_path / "early", log=log)
    assert res.step == 0 and not rows(tmp_path / "early")
    assert f"final evaluation skipped (a second {sig.name}): no validation loss at step 0" in logs
    assert ckpt.load(tmp_path / "early" / "latest.npz").meta["step"] == 0


def test_the_final_evaluation_after_a_signal_stops_at_its_time_limit(corpus, tmp_path):
    # A clock that moves one second each time it is read: the whole split (24 batches,
    # one reading each) takes longer than 3 "seconds", and less than 1000.
    def run_with(limit, name):
        logs = []

        def log(line):
            logs.append(line)
            if line.startswith("step 4 "):
                os.kill(os.getpid(), signal.SIGTERM)
        res = train(corpus, small(stop_eval_seconds=limit, eval_chars=64), run_dir=tmp_path / name,
                    log=log, clock=itertools.count().__next__)
        return res, logs

    res, logs = run_with(3, "short")
    assert res.step == 4 and rows(tmp_path / "short")[-1]["val_full"] == ""
    assert "final evaluation cut short (--stop-eval-seconds 3 ran out): the whole validation " \
           "split was not scored" in logs
    assert ckpt.load(tmp_path / "short" / "latest.npz").meta["step"] == 4
    res, logs = run_with(1000, "long")
    assert res.step == 4 and rows(tmp_path / "long")[-1]["val_full"] != ""
    assert not any(line.startswith("final evaluation") for line in logs)


def test_stop_eval_seconds_is_checked_and_may_change_on_resume(corpus, tmp_path):
    with pytest.raises(ValueError, match="--stop-eval-seconds must be 0 or more"):
        small(stop_eval_seconds=-1).validate()
    train(corpus, small(max_steps=2), run_dir=tmp_path / "r", log=lambda s: None)
    res = train(None, TrainConfig(max_steps=3, stop_eval_seconds=30, quiet=True),
                resume=tmp_path / "r", explicit={"max_steps", "stop_eval_seconds", "quiet"},
                log=lambda s: None)
    assert res.step == 3


def test_a_third_signal_ends_the_process_but_not_inside_a_save_or_the_finish(monkeypatch):
    from charlstm.train import _StopFlag
    died = []
    flag = _StopFlag(eval_seconds=5, clock=itertools.count().__next__)
    monkeypatch.setattr(flag, "_die", died.append)
    flag._handle(signal.SIGTERM, None)
    assert flag.set and flag.name == "SIGTERM" and flag.evaluation_cut() is None
    flag._handle(signal.SIGTERM, None)
    assert flag.evaluation_cut() == "a second SIGTERM" and died == []
    with flag.saving_checkpoint():
        flag._handle(signal.SIGINT, None)
        assert died == []                              # the checkpoint is finished first
    assert died == [signal.SIGINT]
    flag._handle(signal.SIGTERM, None)
    assert died == [signal.SIGINT, signal.SIGTERM]
    flag.finishing = True                              # only the save is left: it is waited for
    flag._handle(signal.SIGTERM, None)
    with flag.saving_checkpoint():
        flag._handle(signal.SIGTERM, None)
    assert died == [signal.SIGINT, signal.SIGTERM]
