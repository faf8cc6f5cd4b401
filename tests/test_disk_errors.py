"""A run folder that cannot be written (full, read-only, removed, no permission) ends the
run with one line: what failed, the checkpoints saved before (loaded to check them), and
how to resume, here or on another disk. Nothing half-written is left behind.

The injected errors always run; a real full and read-only filesystem (a small tmpfs)
needs root, and a real permission error needs a user who is not root.
"""

import errno
import os
import shutil
import subprocess

import numpy as np
import pytest

from charlstm import checkpoint as ckpt
from charlstm.cli import main
from charlstm.train import RunFolderError, TrainConfig, train

from conftest import SMALL, run_cli


def leftovers(run):
    """Temporary files a failed write would leave."""
    return sorted(p.name for p in run.iterdir() if p.name.startswith(".") or "tmp" in p.name)


def stderr_of(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code, capsys.readouterr().err


@pytest.mark.parametrize("code,advice", [
    (errno.ENOSPC, "free some space"),
    (errno.EACCES, "fix the folder's permissions"),
    (errno.EROFS, "make the filesystem writable (it is read-only)"),
])
def test_an_injected_write_error_ends_in_one_line_with_the_checkpoints_intact(
        corpus, tmp_path, monkeypatch, capsys, code, advice):
    run = tmp_path / "run"
    real_savez, calls = np.savez, []

    def savez(f, **arrays):                            # the second save fails half-way
        calls.append(1)
        if len(calls) == 2:
            f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(code, os.strerror(code))
        real_savez(f, **arrays)
    monkeypatch.setattr(np, "savez", savez)
    status, err = stderr_of(capsys, ["train", str(corpus), "--run-dir", str(run), "--max-steps", "30",
                                     "--eval-every", "1000", "--checkpoint-every", "5", *SMALL])
    monkeypatch.setattr(np, "savez", real_savez)
    last = err.strip().splitlines()[-1]
    assert status == 2 and "Traceback" not in err and err.count("error:") == 1
    assert last == (f"error: at step 10, cannot write {run / 'latest.npz'}: {os.strerror(code)}; "
                    "the checkpoint saved before is intact (loaded and checked): latest.npz "
                    f"(step 5); {advice} and resume with: charlstm train --resume {run}; or "
                    f"resume on another disk: cp -r {run} OTHER_DISK/ && charlstm train --resume "
                    "OTHER_DISK/run")
    assert ckpt.load(run / "latest.npz").meta["step"] == 5
    assert leftovers(run) == []
    if code != errno.ENOSPC:
        return
    other = tmp_path / "other"                         # what the line says, done
    other.mkdir()
    shutil.copytree(run, other / "run")
    res = train(None, TrainConfig(max_steps=12, quiet=True), resume=other / "run",
                explicit={"max_steps", "quiet"}, log=lambda s: None)
    assert res.step == 12 and ckpt.load(other / "run" / "latest.npz").meta["step"] == 12


def test_a_failed_append_is_cut_back(corpus, tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(corpus, TrainConfig(hidden_size=16, embed_size=8, num_layers=1, batch_size=4, seq_len=16,
                              max_steps=4, eval_every=2, sample_chars=20, quiet=True),
          run_dir=run, log=lambda s: None)
    before = (run / "metrics.csv").read_bytes()
    real_write = os.write

    def write(fd, data):                               # the disk fills after 7 bytes
        if len(data) > 7:
            real_write(fd, bytes(data[:7]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)
    from charlstm.train import RunFolder
    monkeypatch.setattr(os, "write", write)
    with pytest.raises(RunFolderError, match="metrics.csv: No space left on device"):
        RunFolder(run).append_metrics({"step": 99, "val_loss": "1.0"})
    monkeypatch.setattr(os, "write", real_write)
    assert (run / "metrics.csv").read_bytes() == before   # not half a row


def test_a_run_folder_removed_mid_run_is_said_so(corpus, tmp_path):
    run = tmp_path / "run"

    def log(line):
        if line.startswith("step 5 "):                 # at the first evaluation
            shutil.rmtree(run)
    with pytest.raises(RunFolderError) as e:
        train(corpus, TrainConfig(hidden_size=16, embed_size=8, num_layers=1, batch_size=4,
                                  seq_len=16, max_steps=50, eval_every=5, quiet=True),
              run_dir=run, log=log)
    assert str(e.value) == (f"at step 5, cannot write {run / 'best.npz'}: No such file or "
                            f"directory (the run folder {run} was removed); no checkpoint of "
                            "this run is left, so start it again")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_folder_without_write_permission(corpus, tmp_path):
    run = tmp_path / "run"
    train(corpus, TrainConfig(hidden_size=16, embed_size=8, num_layers=1, batch_size=4, seq_len=16,
                              max_steps=2, quiet=True), run_dir=run, log=lambda s: None)
    run.chmod(0o500)
    try:
        res = run_cli("train", "--resume", run, "--max-steps", "4", "--quiet")
    finally:
        run.chmod(0o700)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "Permission denied" in res.stderr and "latest.npz (step 2)" in res.stderr


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs (root only), unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                                            str(disk)], capture_output=True).returncode != 0:
        pytest.skip("making a small filesystem needs root (mount -t tmpfs)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_full_and_a_read_only_filesystem(corpus, tmp_path, tiny_disk, capsys):
    run = tiny_disk / "run"
    status, err = stderr_of(capsys, ["train", str(corpus), "--run-dir", str(run), "--max-steps",
                                     "20", "--eval-every", "10", "--checkpoint-every", "10", *SMALL])
    assert status == 0 and ckpt.load(run / "latest.npz").meta["step"] == 20, err
    # Fill the disk to within 16 kB: the small files still fit, a checkpoint (~90 kB) not.
    st = os.statvfs(tiny_disk)
    (tiny_disk / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize - 16384))
    status, err = stderr_of(capsys, ["train", "--resume", str(run), "--max-steps", "40",
                                     "--eval-every", "1000", "--checkpoint-every", "5", "--quiet"])
    assert status == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(
        f"error: at step 25, cannot write {run / 'latest.npz'}: No space left on device; the "
        "checkpoints saved before are intact (loaded and checked): latest.npz (step 20) and "
        "best.npz (step 20); free some space")
    assert ckpt.load(run / "latest.npz").meta["step"] == 20 and leftovers(run) == []
    # Read-only: the first write of a resumed run (config.json) fails, and says so.
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    status, err = stderr_of(capsys, ["train", "--resume", str(run), "--max-steps", "40", "--quiet"])
    assert status == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(
        f"error: cannot write {run / 'config.json'}: Read-only file system; the checkpoints saved "
        "before are intact (loaded and checked): latest.npz (step 20) and best.npz (step 20); make "
        "the filesystem writable (it is read-only) and resume with")
    # Resume on another disk, as the line says.
    shutil.copytree(run, tmp_path / "elsewhere")
    status, err = stderr_of(capsys, ["train", "--resume", str(tmp_path / "elsewhere"),
                                     "--max-steps", "25", "--quiet"])
    assert status == 0, err
    assert ckpt.load(tmp_path / "elsewhere" / "latest.npz").meta["step"] == 25
