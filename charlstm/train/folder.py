"""The run folder: RunFolder owns config.json, metrics.csv, the checkpoints, samples.txt
and loss.png, writes each atomically, and turns a failed write into one line that says
what is left and how to go on.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
from contextlib import contextmanager
from pathlib import Path

from .. import checkpoint as ckpt
from ..errors import CharlstmError
from ..plot import plot_runs, read_metrics
from .config import METRICS, RunFolderError


class RunFolder:
    """The files of a run; nothing else in the trainer touches them.

    config.json   the settings, the corpus and the command
    metrics.csv   a row per evaluation (METRICS), rewritten atomically
    latest.npz    the checkpoint to resume from; best.npz the lowest validation loss
    samples.txt   text sampled at each evaluation;  loss.png the curves

    Every file is replaced whole (a temporary file renamed over it) or appended to (a
    failed append is cut back), so a failed write leaves nothing half-written; the
    failure becomes one RunFolderError line (``failure``).
    """
    FILES = ("config.json", "metrics.csv", "latest.npz", "best.npz", "loss.png", "samples.txt")

    def __init__(self, path):
        self.path = Path(path)
        self.metrics_file = self.path / "metrics.csv"

    @classmethod
    def create(cls, path, overwrite=False) -> "RunFolder":
        """A folder for a new run; one that holds another run is refused unless overwrite."""
        path = Path(path)
        if path.exists() and any(path.iterdir()):
            if not overwrite:
                raise CharlstmError(f"run folder {path} already exists; pass --resume {path} "
                                    "to continue it, --overwrite to replace it, or choose "
                                    "another --run-dir")
            for name in cls.FILES:                     # only the run's own files go
                with cls(path)._writing(name):
                    (path / name).unlink(missing_ok=True)
        return cls.reopen(path)

    @classmethod
    def reopen(cls, path) -> "RunFolder":
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CharlstmError(f"cannot create run folder {path}: {e.strerror}")
        return cls(path)

    # ---------------------------------------------------------------- writing, and failing

    @contextmanager
    def _writing(self, name, tmp: Path | None = None):
        """Any OSError while writing file ``name`` becomes one RunFolderError line;
        ``tmp``, a temporary file, is removed."""
        try:
            yield
        except OSError as e:
            if tmp is not None:
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass
            raise RunFolderError(self.failure(name, e)) from None

    def _replace(self, name, data: bytes):
        """Write file ``name`` whole: a temporary file beside it, renamed over it."""
        tmp = self.path / f".{name}.tmp"
        with self._writing(name, tmp):
            tmp.write_bytes(data)
            os.replace(tmp, self.path / name)

    def _append(self, name, data: bytes):
        """Append to file ``name``; an append that fails half-way is cut back."""
        with self._writing(name):
            fd = os.open(self.path / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                size = os.lseek(fd, 0, os.SEEK_END)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                except OSError:
                    os.ftruncate(fd, size)
                    raise
            finally:
                os.close(fd)

    def failure(self, name, e: OSError) -> str:
        """The line a failed write ends the run with: what failed, whether the checkpoints
        saved before are intact (each is loaded, which checks its CRCs and its shapes),
        and how to go on, here or on another disk."""
        path = self.path
        what = f"cannot write {path / name}: {e.strerror or e}"
        if not path.is_dir():
            return (f"{what} (the run folder {path} was removed); no checkpoint of this run "
                    "is left, so start it again")
        kept, damaged = [], []
        for ck_name in ("latest.npz", "best.npz"):
            if (path / ck_name).exists():
                try:
                    kept.append(f"{ck_name} (step {ckpt.load(path / ck_name).meta['step']})")
                except (CharlstmError, KeyError):
                    damaged.append(ck_name)
        state = ("no checkpoint had been saved yet" if not kept else
                 f"the checkpoint{'s' if len(kept) > 1 else ''} saved before "
                 f"{'are' if len(kept) > 1 else 'is'} intact (loaded and checked): "
                 + " and ".join(kept))
        if damaged:
            state += f"; {' and '.join(damaged)} did not load"
        fix = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space (the disk quota is full)",
               errno.EROFS: "make the filesystem writable (it is read-only)", errno.EACCES: "fix the folder's permissions",
               errno.EPERM: "fix the folder's permissions"}.get(e.errno, "fix that")
        if any(k.startswith("latest.npz") for k in kept):
            how = (f"{fix} and resume with: charlstm train --resume {path}; or resume on another "
                   f"disk: cp -r {path} OTHER_DISK/ && charlstm train --resume "
                   f"OTHER_DISK/{path.name}")
        else:
            how = f"{fix} and start the run again (or with another --run-dir)"
        return f"{what}; {state}; {how}"

    # ---------------------------------------------------------------- the files

    def write_config(self, config: dict):
        self._replace("config.json", (json.dumps(config, indent=2, ensure_ascii=False)
                                      + "\n").encode("utf-8"))

    def read_metrics(self) -> list[dict]:
        if not self.metrics_file.exists():
            return []
        with open(self.metrics_file, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    @staticmethod
    def _csv(rows, header=False) -> bytes:
        f = io.StringIO(newline="")
        w = csv.DictWriter(f, METRICS)
        if header:
            w.writeheader()
        w.writerows(rows)
        return f.getvalue().encode("utf-8")

    def write_metrics(self, rows):
        self._replace("metrics.csv", self._csv(rows, header=True))

    def start_metrics(self, through_step: int | None) -> list[dict]:
        """Start metrics.csv: empty for a new run (through_step None); a resumed run keeps
        the rows up to its checkpoint's step and drops any written after it (by a run that
        stopped between two checkpoints). Returns the rows kept."""
        rows = ([] if through_step is None else
                [r for r in self.read_metrics() if int(r["step"]) <= through_step])
        self.write_metrics(rows)
        return rows

    def append_metrics(self, row: dict):
        self._append("metrics.csv", self._csv([row]))

    def amend_last_metrics(self, **values):
        rows = self.read_metrics()
        rows[-1].update(values)
        self.write_metrics(rows)

    def save_checkpoint(self, name, meta, model, opt, state, extra=None):
        """extra: more state saved beside the optimizer's (the weight average)."""
        with self._writing(name):                      # ckpt.save removes its temporary file
            ckpt.save(self.path / name, meta, model.params, opt.state_dict() | (extra or {}),
                      state)

    def save_weights(self, name, meta, params):
        """A checkpoint of weights alone (ema.npz): no optimizer state, no carried state."""
        with self._writing(name):
            ckpt.save(self.path / name, meta, params)

    def update_meta(self, name, ck, **fields):
        """Rewrite checkpoint ``name`` (loaded as ``ck``) with ``fields`` in its metadata."""
        with self._writing(name):
            ckpt.save(self.path / name, dict(ck.meta, **fields), ck.params, ck.optim, ck.state)

    def best_saved_loss(self) -> float:
        """best.npz's validation loss (it may be newer than latest.npz), or inf."""
        if not (self.path / "best.npz").exists():
            return math.inf
        saved = ckpt.load(self.path / "best.npz").meta.get("best_val_loss")
        return saved if saved is not None else math.inf

    def append_sample(self, step, val, text, unit="char"):
        self._append("samples.txt", f"--- step {step}, val loss {val:.4f} nats/{unit}\n{text}\n\n"
                     .encode("utf-8"))

    def replot(self):
        tmp = self.path / ".loss.tmp.png"              # the suffix tells matplotlib the format
        with self._writing("loss.png", tmp):
            try:
                plot_runs([(self.path.name, read_metrics(self.metrics_file))], tmp)
            except CharlstmError:
                return                                 # nothing to draw yet
            os.replace(tmp, self.path / "loss.png")
