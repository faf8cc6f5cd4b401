"""The trainer's pieces on their own: the run folder's files and the stopping rules."""

import math

import pytest

from charlstm.errors import CharlstmError
from charlstm.train import METRICS, Budget, RunFolder, TrainConfig


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self):
        self.t = 500.0

    def __call__(self):
        return self.t


def row(step, val=2.0):
    return {k: "" for k in METRICS} | {"step": step, "val_loss": f"{val:.6f}"}


# --------------------------------------------------------------------------- RunFolder

def test_a_new_run_folder_refuses_another_run_unless_told_to_overwrite(tmp_path):
    folder = RunFolder.create(tmp_path / "run")
    folder.write_config({"a": 1})
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(CharlstmError, match="already exists.*--resume.*--overwrite"):
        RunFolder.create(tmp_path / "run")
    assert (tmp_path / "run" / "config.json").exists()
    RunFolder.create(tmp_path / "run", overwrite=True)
    # Only the run's own files go; what else the user keeps there stays.
    assert not (tmp_path / "run" / "config.json").exists()
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_a_run_folder_that_cannot_be_made_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CharlstmError, match="cannot create run folder"):
        RunFolder.create(tmp_path / "file" / "run")


def test_metrics_rows_append_amend_and_resume_drops_rows_after_the_checkpoint(tmp_path):
    folder = RunFolder.create(tmp_path / "run")
    assert folder.start_metrics(None) == []
    for step in (10, 20, 30):
        folder.append_metrics(row(step))
    folder.amend_last_metrics(val_full="1.500000")
    rows = folder.read_metrics()
    assert [int(r["step"]) for r in rows] == [10, 20, 30]
    assert rows[-1]["val_full"] == "1.500000" and rows[0]["val_full"] == ""
    assert list(rows[0]) == METRICS
    # A run resumed from the checkpoint of step 20 forgets the row of step 30.
    kept = RunFolder.reopen(tmp_path / "run").start_metrics(20)
    assert [int(r["step"]) for r in kept] == [10, 20]
    assert [int(r["step"]) for r in folder.read_metrics()] == [10, 20]
    assert not list((tmp_path / "run").glob(".*tmp"))   # the rewrite left no temporary


def test_samples_append_and_a_missing_best_checkpoint_reads_as_infinity(tmp_path):
    folder = RunFolder.create(tmp_path / "run")
    assert folder.best_saved_loss() == math.inf
    folder.append_sample(10, 2.5, "abc")
    folder.append_sample(20, 2.0, "def")
    text = (tmp_path / "run" / "samples.txt").read_text()
    assert text.index("step 10") < text.index("abc") < text.index("step 20") < text.index("def")
    folder.replot()                                    # no rows: nothing drawn, no error
    assert not (tmp_path / "run" / "loss.png").exists()


# --------------------------------------------------------------------------- Budget

def test_a_run_with_no_limit_gets_the_default_ten_minutes():
    clock = FakeClock()
    b = Budget(TrainConfig(), steps_per_epoch=100, clock=clock)
    assert (b.total_steps, b.minutes) == (None, 10.0)
    assert b.stop_reason(10**6) is None
    clock.t += 599.9
    assert b.stop_reason(0) is None and b.minutes_left() == pytest.approx(0.1 / 60)
    clock.t += 0.1
    assert b.stop_reason(0) == "time"


def test_step_and_epoch_limits_are_totals_and_the_smaller_one_stops_the_run():
    b = Budget(TrainConfig(max_steps=50), steps_per_epoch=100, clock=FakeClock())
    assert b.minutes is None and b.describe() == "50 steps"
    assert b.stop_reason(49) is None and b.stop_reason(50) == "steps"
    b = Budget(TrainConfig(max_steps=500, epochs=2.5), steps_per_epoch=100, clock=FakeClock())
    assert b.total_steps == 250 and b.stop_reason(250) == "epochs"
    b = Budget(TrainConfig(max_steps=50, minutes=1), steps_per_epoch=100, clock=FakeClock())
    assert b.describe() == "50 steps, 1 min" and b.minutes_left() is None


def test_an_interrupt_stops_the_run_after_the_limits_are_checked():
    b = Budget(TrainConfig(max_steps=5), steps_per_epoch=100, clock=FakeClock())
    assert b.stop_reason(3, interrupted=True) == "interrupt"
    assert b.stop_reason(5, interrupted=True) == "steps"


def test_progress_counts_steps_under_a_step_limit_and_time_otherwise():
    b = Budget(TrainConfig(max_steps=40), steps_per_epoch=100, clock=FakeClock())
    assert b.time_progress() is None and b.progress(10) == 0.25 and b.progress(80) == 1.0
    clock = FakeClock()
    b = Budget(TrainConfig(minutes=2), steps_per_epoch=100, clock=clock)
    clock.t += 30
    assert b.progress(0) == pytest.approx(0.25)
    clock.t += 1000
    assert b.progress(0) == 1.0                        # never past the end


def test_a_resumed_time_budget_continues_its_progress_or_restarts_a_finished_decay():
    clock = FakeClock()
    b = Budget(TrainConfig(minutes=1), steps_per_epoch=100, clock=clock, resumed_progress=0.6)
    assert not b.restarted and b.time_progress() == pytest.approx(0.6)
    clock.t += 30
    assert b.time_progress() == pytest.approx(0.8)     # the rest spread over this budget
    b = Budget(TrainConfig(minutes=1), steps_per_epoch=100, clock=clock, resumed_progress=1.0)
    assert b.restarted and b.time_progress() == 0.0
    b = Budget(TrainConfig(minutes=1, lr_schedule="constant"), steps_per_epoch=100,
               clock=clock, resumed_progress=1.0)
    assert not b.restarted                             # nothing decays, nothing restarts


def test_the_time_budget_counts_from_start():
    clock = FakeClock()
    b = Budget(TrainConfig(minutes=1), steps_per_epoch=100, clock=clock)
    clock.t += 45                                      # set-up before the loop
    b.start()
    clock.t += 59
    assert b.stop_reason(0) is None and b.elapsed() == 59
