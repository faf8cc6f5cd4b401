"""The size chosen for a time budget (charlstm/sizing.py): the rule, when it applies,
what a run records of it, and that resume keeps it."""

import json
from dataclasses import replace

import pytest

from charlstm import checkpoint as ckpt
from charlstm import sizing
from charlstm.cli import app
from charlstm.evaluate import describe
from charlstm.train import TrainConfig, TrainData, train

from conftest import run_cli


class Clock:
    """Seconds that move only when a fake step says so."""

    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def timed(clock, seconds: dict):
    """A time_step for sizing.choose: each candidate's step takes seconds[hidden_size]."""
    def time_step(cfg, deadline):
        clock.t += 4 * seconds[cfg.hidden_size]        # one untimed step and three timed
        return seconds[cfg.hidden_size]
    return time_step


@pytest.fixture
def data(corpus):
    return TrainData.load(corpus, TrainConfig(batch_size=4, seq_len=16))


def reads(spe, times, budget=600):
    """The seconds a step must take for a model to read the corpus ``times`` times."""
    return budget * sizing.STEP_SHARE / (times * spe)


def test_the_biggest_candidate_that_reads_the_corpus_ten_times_is_chosen(data):
    spe = data.steps_per_epoch
    clock = Clock()
    # 600 s at STEP_SHARE of the time: a model reads the corpus 600 * STEP_SHARE / (s * spe) times.
    # 2 x 384 would read it 20 times and 2 x 512 11 times: 512, after both were timed.
    cfg, choice = sizing.choose(TrainConfig(), data, 600, clock,
                                timed(clock, {512: reads(spe, 11), 384: reads(spe, 20)}))
    assert (cfg.hidden_size, cfg.dropout) == (512, 0.5) == (choice.hidden_size, choice.dropout)
    assert [(c["hidden_size"], round(c["epochs"])) for c in choice.timed] == [(384, 20), (512, 11)]
    assert choice.probe_s == pytest.approx(4 * reads(spe, 11) + 4 * reads(spe, 20))
    # 384 would read it 12 times and 512 7 times: 384.
    cfg, choice = sizing.choose(TrainConfig(), data, 600, clock,
                                timed(clock, {512: reads(spe, 7), 384: reads(spe, 12)}))
    assert (cfg.hidden_size, cfg.dropout) == (384, 0.35) == (choice.hidden_size, choice.dropout)
    assert [(c["hidden_size"], round(c["epochs"])) for c in choice.timed] == [(384, 12), (512, 7)]
    # 9 times is too few for 384: the defaults, and 512, which steps slower still, is not
    # timed (a step time for it that would pass is never asked for).
    cfg, choice = sizing.choose(TrainConfig(), data, 600, clock,
                                timed(clock, {512: reads(spe, 50), 384: reads(spe, 9)}))
    assert (cfg.hidden_size, cfg.dropout) == (256, 0.2)
    assert [c["hidden_size"] for c in choice.timed] == [384]
    assert choice.probe_s == pytest.approx(4 * reads(spe, 9))


def test_the_reason_names_the_figures_and_how_to_choose_instead(data):
    spe = data.steps_per_epoch
    fixed = {512: reads(spe, 8), 384: reads(spe, 14)}
    _, choice = sizing.choose(TrainConfig(), data, 600, Clock(), lambda c, d: fixed[c.hidden_size])
    why = choice.to_meta()["why"]
    assert why.startswith("size: 2 x 384, dropout 0.35, chosen for the 10-min budget: "
                          "2 x 384 (dropout 0.35) takes")
    assert "would read the corpus ~14.0 times; 2 x 512 (dropout 0.5) takes" in why
    assert "would read the corpus ~8.0 times, fewer than 10 (the biggest model" in why
    assert "--hidden-size, --dropout or --no-auto-size choose instead" in why
    fixed = {512: reads(spe, 3), 384: reads(spe, 6)}
    _, choice = sizing.choose(TrainConfig(), data, 600, Clock(), lambda c, d: fixed[c.hidden_size])
    why = choice.to_meta()["why"]
    assert why.startswith("size: 2 x 256, dropout 0.2, chosen for the 10-min budget: 2 x 384")
    assert "~6.0 times, fewer than 10; 2 x 512 not timed: a bigger model steps slower still" in why
    fixed = {512: reads(spe, 12), 384: reads(spe, 30)}
    _, choice = sizing.choose(TrainConfig(), data, 600, Clock(), lambda c, d: fixed[c.hidden_size])
    why = choice.to_meta()["why"]
    assert "~30.0 times; 2 x 512 (dropout 0.5)" in why and "~12.0 times (the biggest" in why
    assert "fewer than" not in why


def test_the_timing_stops_at_its_share_of_the_budget_and_an_untimed_candidate_loses(data):
    clock = Clock()
    spe = data.steps_per_epoch

    def slow_to_time(cfg, deadline):
        # 2 x 384's untimed first step (where numba compiles) takes 20 s, past 2% of a
        # 10-minute budget; its steps would read the corpus 30 times.
        assert cfg.hidden_size == 384, "2 x 512 was timed after the timing's share had passed"
        clock.t += 20
        return reads(spe, 30)
    cfg, choice = sizing.choose(TrainConfig(), data, 600, clock, slow_to_time)
    assert cfg.hidden_size == 384 and [c["hidden_size"] for c in choice.timed] == [384]
    assert "2 x 512 not timed: the timing had used its share of the budget" in \
        choice.to_meta()["why"]


def test_step_seconds_times_real_steps_without_touching_the_run(data):
    cfg = TrainConfig(hidden_size=16, embed_size=8, batch_size=4, seq_len=16)
    before = data.train.get(0, 0)[0].copy()
    s = sizing.step_seconds(cfg, data)
    assert 0 < s < 5
    assert (data.train.get(0, 0)[0] == before).all()


@pytest.mark.parametrize("change, explicit", [
    ({}, {"hidden_size"}), ({}, {"dropout"}), ({"max_steps": 10}, set()),
    ({"epochs": 2.0}, set()), ({"records": "lines"}, set()), ({"cell": "gru"}, set()),
    ({"num_layers": 3}, set()), ({"auto_size": False}, set()),
])
def test_it_applies_only_to_a_time_budget_and_an_unset_size(change, explicit):
    assert sizing.applies(TrainConfig(), set(), 600)
    assert not sizing.applies(replace(TrainConfig(), **change), explicit, 600)


def test_a_budget_under_a_minute_keeps_the_defaults():
    assert sizing.applies(TrainConfig(), set(), 60) and not sizing.applies(TrainConfig(), set(), 59)


def small_candidates(monkeypatch, seconds):
    """Candidates small enough for a test, with fixed step times (no timing noise)."""
    monkeypatch.setattr(sizing, "CANDIDATES", ((24, 0.0), (40, 0.1)))
    monkeypatch.setattr(sizing, "MIN_BUDGET_S", 0.0)
    monkeypatch.setattr(sizing, "step_seconds",
                        lambda cfg, data, clock, deadline: seconds[cfg.hidden_size])


def test_a_run_records_its_choice_and_resume_keeps_it(corpus, tmp_path, monkeypatch):
    small_candidates(monkeypatch, {24: 1e-4, 40: 2e-4})
    run, lines = tmp_path / "run", []
    cfg = TrainConfig(embed_size=8, batch_size=4, seq_len=16, minutes=0.02, eval_every=10,
                      sample_chars=0, quiet=True)
    train(corpus, cfg, run_dir=run, explicit={"embed_size", "batch_size", "seq_len",
                                               "minutes", "eval_every", "sample_chars", "quiet"},
          log=lines.append)
    assert any(line.startswith("size: 2 x 40, dropout 0.1, chosen for the 0.02-min budget")
               for line in lines)
    config = json.loads((run / "config.json").read_text())
    assert (config["train"]["hidden_size"], config["train"]["dropout"]) == (40, 0.1)
    assert config["size_choice"]["hidden_size"] == 40
    ck = ckpt.load(run / "latest.npz")
    assert ck.model_config.hidden_size == 40 and ck.meta["size_choice"]["hidden_size"] == 40
    assert "size: 2 x 40" in describe(ck, run / "latest.npz")
    # Resumed, with the timing now favouring the small one: the run keeps its size, and
    # nothing is timed again.
    monkeypatch.setattr(sizing, "step_seconds", lambda *a, **k: pytest.fail("timed on resume"))
    lines.clear()
    train(None, TrainConfig(minutes=0.01, quiet=True), resume=run, explicit={"minutes", "quiet"},
          log=lines.append)
    ck = ckpt.load(run / "latest.npz")
    assert ck.model_config.hidden_size == 40 and ck.meta["size_choice"]["hidden_size"] == 40
    assert not any(line.startswith("size:") for line in lines)


def test_a_fine_tune_takes_its_parents_size_without_timing(corpus, tmp_path, monkeypatch):
    parent = tmp_path / "parent"
    train(corpus, TrainConfig(hidden_size=24, embed_size=8, batch_size=4, seq_len=16,
                              max_steps=3, quiet=True, sample_chars=0),
          run_dir=parent, log=lambda s: None)
    monkeypatch.setattr(sizing, "step_seconds", lambda *a, **k: pytest.fail("timed a fine-tune"))
    res = train(corpus, TrainConfig(minutes=0.01, quiet=True, batch_size=4, seq_len=16,
                                    sample_chars=0), run_dir=tmp_path / "ft",
                init_from=parent / "latest.npz", log=lambda s: None)
    assert ckpt.load(res.run_dir / "latest.npz").model_config.hidden_size == 24


def test_the_command_line_chooses_and_no_auto_size_keeps_the_defaults(corpus, tmp_path,
                                                                      monkeypatch, runner):
    monkeypatch.setattr(sizing, "MIN_BUDGET_S", 0.0)  # a test cannot wait a minute
    run = tmp_path / "run"
    small = ["--embed-size", "8", "--batch-size", "16", "--seq-len", "16", "--sample-chars", "0",
             "--quiet", "--eval-every", "5"]
    r = runner.invoke(app, ["train", str(corpus), "--run-dir", str(run), "--minutes", "0.05",
                            *small])
    assert r.exit_code == 0, r.output
    # What is chosen depends on this machine's speed (a loaded one may not time 384):
    # the log, config.json, the model and info must agree on it.
    config = json.loads((run / "config.json").read_text())
    h, p = config["train"]["hidden_size"], config["train"]["dropout"]
    assert (h, p) in sizing.CANDIDATES and config["size_choice"]["hidden_size"] == h
    assert f"size: 2 x {h}, dropout {p:g}, chosen for the 0.05-min budget" in r.stderr
    assert ckpt.load(run / "latest.npz").model_config.hidden_size == h
    info = run_cli("info", run / "latest.npz")
    assert info.returncode == 0 and f"size: 2 x {h}" in info.stdout
    off = tmp_path / "off"
    r = runner.invoke(app, ["train", str(corpus), "--run-dir", str(off), "--minutes", "0.01",
                            "--no-auto-size", *small])
    assert r.exit_code == 0 and "size:" not in r.stderr
    config = json.loads((off / "config.json").read_text())
    assert config["train"]["auto_size"] is False and config["train"]["hidden_size"] == 256
    assert "size_choice" not in config
