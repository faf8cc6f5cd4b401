"""The benchmark script's pieces (not its timings): FLOP count and the jobs it times."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "bench", Path(__file__).resolve().parent.parent / "scripts" / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_step_flops_formula():
    # One layer, E = 64: 3 * 2*N*T*(64 + H)*4H, plus the output layer 3 * 2*N*T*H*V.
    N, T, H = 2, 3, 5
    assert bench.step_flops(H, 1, N, T) == 3 * 2 * N * T * (64 + H) * 4 * H + 3 * 2 * N * T * H * 65


def test_numpy_jobs_run():
    bench.numpy_job(H=8, L=2, N=2, T=3, dropout=0.2)()
    bench.numpy_sampler(8, 1)(5)


def test_quality_race_runs_end_to_end_in_a_fast_mode(tmp_path):
    """Both sides train for a second on a tiny corpus; the torch side runs if torch is here."""
    import json
    import subprocess
    import sys
    from conftest import make_text
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_text(20000), encoding="utf-8")
    script = Path(__file__).resolve().parent.parent / "scripts" / "quality.py"
    r = subprocess.run([sys.executable, script, "--corpus", corpus, "--minutes", "0.02",
                        "--first-seed", "3", "--out", tmp_path / "q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "| c | 0.02 | charlstm |" in r.stdout
    out = json.loads(next((tmp_path / "q").glob("quality-*.json")).read_text())
    entry = out["results"][0]
    assert (entry["repeat"], entry["seed"]) == (0, 3)          # --first-seed: seed 3
    ours = entry["charlstm"]
    assert 0 < ours["val_full"] < 5 and ours["steps"] > 0 and 0 < ours["best_full"] < 5
    assert 0 < ours["ema_full"] < 5                            # ema.npz on the whole split
    assert ours["shape"]["hidden_size"] in (256, 384, 512)     # chosen for the budget
    if out["torch"] is not None:
        assert set(entry["torch"]) == {"charlstm", "torch-rnn"}
        for recipe, got in entry["torch"].items():
            assert 0 < got["val_full"] < 5 and got["steps"] > 0 and 0 < got["best_full"] < 5
            assert got["shape"] == ours["shape"]                # PyTorch given the same size
            assert f"| c | 0.02 | torch, {recipe} recipe |" in r.stdout
        assert entry["torch"]["torch-rnn"]["last_lr"] == 2e-3       # 5 epochs take longer
        assert 0 < entry["torch"]["charlstm"]["ema_full"] < 5      # the same average
        assert entry["torch"]["torch-rnn"]["ema_full"] is None      # torch-rnn keeps none
        assert "averaged, against the charlstm recipe" in r.stdout
        assert "one run each" in r.stdout
    r = subprocess.run([sys.executable, script, "--corpus", tmp_path / "missing.txt"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "not found" in r.stderr and "Traceback" not in r.stderr


def test_sweep_keeps_the_runs_folders_when_asked(tmp_path):
    """Two variants of a few steps each: the JSON and the table, and with --keep-runs each
    run's folder (metrics, checkpoints) stays where its result says."""
    import json
    from conftest import make_text
    from scripts import sweep
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_text(6000), encoding="utf-8")
    small = "--hidden-size 16 --embed-size 8 --batch-size 4 --seq-len 16 --max-steps 4 --eval-every 2"
    sweep.main(["--corpus", str(corpus), "--minutes", "1", "--out", str(tmp_path / "s"),
                "--keep-runs", "--variant", f"a={small}", "--variant", f"b/c={small} --dropout 0.1"])
    out = json.loads(next((tmp_path / "s").glob("sweep-*.json")).read_text())
    assert [r["variant"] for r in out["results"]] == ["a", "b/c"]
    root = Path(sweep.ROOT)
    for r in out["results"]:
        assert "error" not in r, r
        assert r["steps"] == 4 and r["hidden_size"] == 16 and 0 < r["val_full"] < 6
        kept = root / r["run_dir"]
        assert (kept / "metrics.csv").exists() and (kept / "best.npz").exists()
    assert Path(out["results"][1]["run_dir"]).name == "b_c-1"
    sweep.main(["--corpus", str(corpus), "--minutes", "1", "--out", str(tmp_path / "t"),
                "--variant", f"a={small}"])
    assert [p.suffix for p in (tmp_path / "t").iterdir()] == [".json"]   # no folders kept


def test_quality_verdict_weighs_the_margin_against_the_spread():
    from scripts.quality import verdict
    margin, spread, word = verdict([1.40, 1.41], [1.45, 1.46])
    assert abs(margin - 0.05) < 1e-12 and abs(spread - 0.01) < 1e-12 and word == "charlstm ahead"
    assert verdict([1.40, 1.44], [1.42, 1.43])[2].startswith("level")   # 0.005 < 0.04
    assert verdict([1.50, 1.51], [1.40, 1.40])[2] == "PyTorch ahead"
    assert verdict([1.4], [1.5])[2].startswith("one run each")


def test_torch_rnn_recipe_halves_the_rate_every_five_epochs():
    from charlstm.optim import learning_rate
    from scripts.quality import RECIPES
    from charlstm.train import TrainConfig
    cfg = TrainConfig(**RECIPES["torch-rnn"])
    rates = [learning_rate(cfg.lr, 0, schedule=cfg.lr_schedule, epoch=e, decay=cfg.lr_decay,
                           decay_every=cfg.lr_decay_every, warmup=cfg.warmup_steps) for e in (0, 4, 5, 10)]
    assert rates == [2e-3, 2e-3, 1e-3, 5e-4]


def test_torch_side_counts_epochs_for_the_torch_rnn_recipe(tmp_path):
    """The PyTorch child passes its epoch to the schedule: after 5 epochs the rate halves."""
    import pytest
    from conftest import make_text
    quality = pytest.importorskip("scripts.quality")
    if quality.torch is None:
        pytest.skip("torch is not installed")
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_text(400), encoding="utf-8")
    small = dict(hidden_size=8, embed_size=4, batch_size=2, seq_len=8, eval_every=10_000)
    enc = quality.encode_corpus(str(corpus), "utf-8", progress=False)
    train_ids, _ = quality.split(enc.ids, 0.1)
    per_epoch = len(quality.Batches(train_ids, 2, 8))
    got = [quality.torch_child(str(corpus), 0, 0, small, k * per_epoch, "torch-rnn")["last_lr"]
           for k in (5, 6)]
    assert got == [2e-3, 1e-3]                     # step 5 * per_epoch - 1 is still in epoch 4


def test_gru_jobs_run_and_count_three_gate_blocks():
    bench.numpy_job(H=8, L=2, N=2, T=3, dropout=0.2, cell="gru")()
    N, T, H = 2, 3, 5
    assert bench.step_flops(H, 1, N, T, cell="gru") == 3 * 2 * N * T * (64 + H) * 3 * H + 3 * 2 * N * T * H * 65


def test_end_to_end_timing_runs_both_commands(tmp_path):
    """One whole `charlstm train` (and the PyTorch script, if torch is here) of 2 steps."""
    from conftest import make_text
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_text(20000), encoding="utf-8")
    cfg = dict(H=8, L=2, N=4, T=8, dropout=0.1)
    assert bench.e2e_seconds("charlstm", cfg, str(corpus), 2) > 0
    if bench.torch is not None:
        assert bench.e2e_seconds("torch", cfg, str(corpus), 2) > 0


def test_scaling_figure_is_drawn(tmp_path):
    rows = lambda axis, xs: [{axis: x, "config": {}, "peak_chars_per_s": 1e5 * x,
                              "charlstm_chars_per_s": 1e4 * x, "torch_chars_per_s": 2e4 * x}
                             for x in xs]
    out = tmp_path / "scaling.png"
    bench.draw_scaling({"H": rows("H", [64, 128]), "N": rows("N", [1, 8])},
                       ["charlstm", "torch"], 70e9, out)
    assert out.stat().st_size > 10_000


def test_end_to_end_runs_enough_extra_steps_to_outweigh_start_up():
    assert bench.e2e_extra_steps(0.030) * 0.030 >= bench.E2E_SECONDS      # small: ~270 steps
    assert bench.e2e_extra_steps(0.030) < 2 * bench.E2E_SECONDS / 0.030
    assert bench.e2e_extra_steps(5.0) == 12                               # never fewer than 12


# --------------------------------------------------------------------------- the BLAS pin

def test_pin_note_only_when_the_pin_changes_the_kernel():
    note = bench.pin_note("Haswell", "openblas", "Haswell", "SkylakeX")
    assert note.count("\n") == 0
    assert "OPENBLAS_CORETYPE=Haswell" in note and "SkylakeX" in note and "--native-blas" in note
    assert bench.pin_note("Haswell", "openblas", "Haswell", "haswell") is None   # the CPU's own
    assert bench.pin_note(None, "openblas", "Haswell", "SkylakeX") is None       # no pin
    assert bench.pin_note("Haswell", "mkl", None, None) is None                 # not OpenBLAS


def test_native_env_drops_only_the_pin():
    env = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512", "PATH": "/x"}
    assert bench.native_env(env) == {"PATH": "/x"}
    assert env["OPENBLAS_CORETYPE"] == "Haswell"                                 # not modified


def _openblas_x86():
    import platform
    return bench.blas_info()["library"] == "openblas" and platform.machine() in ("x86_64", "AMD64")


def test_a_child_reports_the_kernel_and_the_lstm_steps_its_environment_gives():
    """The header's BLAS line comes from a child: a pin (and CHARLSTM_KERNELS=numpy) there
    shows, and --native-blas's environment runs what OpenBLAS picks for the CPU."""
    import os
    from charlstm import fused
    pinned_env = dict(os.environ, OPENBLAS_CORETYPE="Sandybridge", CHARLSTM_KERNELS="numpy")
    pinned = bench.child_blas(pinned_env)
    native = bench.child_blas({k: v for k, v in bench.native_env(pinned_env).items()
                               if k != "CHARLSTM_KERNELS"})
    assert pinned["lstm_kernels"] == "numpy" and pinned["num_threads"] >= 1
    assert native["lstm_kernels"].startswith("numba " if fused.AVAILABLE else "numpy")
    line = bench.blas_line(dict(pinned, pin="Sandybridge"))
    assert "OPENBLAS_CORETYPE=Sandybridge" in line and "LSTM steps: numpy" in line
    if _openblas_x86():
        assert pinned["architecture"] == "Sandybridge" and "Sandybridge kernels" in line
        assert native["architecture"] not in (None, "")
        if os.environ.get("OPENBLAS_CORETYPE") is None:                          # unpinned here
            assert native["architecture"] == bench.blas_info()["architecture"]


def test_every_child_process_gets_the_bench_environment(monkeypatch, tmp_path):
    """With CHILD_ENV set (as --native-blas does) the timings, the memory child and both
    end-to-end commands are started with it."""
    import subprocess
    seen = []

    def fake_run(cmd, **kw):
        seen.append(kw.get("env"))
        out = "1 2" if "-c" in cmd else "[0.5]"
        return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr="")
    env = {"PATH": "/bin", "MARK": "native"}
    monkeypatch.setattr(bench, "CHILD_ENV", env)
    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    assert bench.child_times("train", "charlstm", {}, 1) == [0.5]
    assert bench.peak_memory("numpy_job", {}) == (1, 2)
    cfg = dict(H=8, L=2, N=4, T=8)
    bench.e2e_seconds("charlstm", cfg, str(tmp_path / "c.txt"), 2)
    bench.e2e_seconds("torch", cfg, str(tmp_path / "c.txt"), 2)
    assert len(seen) == 4 and all(e is env for e in seen)


def test_thread_split_grid_times_both_thread_counts_and_names_the_auto_choice(capsys):
    from scripts import thread_split
    thread_split.main(["--hidden", "16", "--batch", "16", "--seq-len", "4", "--rounds", "1",
                       "--reps", "1"])
    out = capsys.readouterr().out
    row = [line for line in out.splitlines() if line.startswith("| 16 | 16 |")]
    assert "BLAS:" in out and len(row) == 1
    one, two = (float(v) for v in row[0].split("|")[3:5])
    assert one > 0 and two > 0 and row[0].rstrip().endswith(f"| {thread_split.auto_threads(16, 16)} |")
