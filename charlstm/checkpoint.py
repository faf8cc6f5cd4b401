"""Checkpoints: one .npz of plain arrays plus one JSON metadata string.

Layout (every entry a plain numeric array; no object arrays, no pickle):

    meta             uint8 bytes of a UTF-8 JSON document (see below)
    param/<name>     model parameters, e.g. param/layer0.Wx
    optim/<slot>/<name>, optim/t   optimizer state
    optim/ema/<name>, optim/ema/t  the weight average (--ema-decay; optim.WeightAverage)
    state/h, state/c the recurrent state carried between training batches (L, N, H)

meta: {"format": "charlstm-checkpoint", "version": 1, "model": ModelConfig fields,
       "vocab": the characters, "dtype", "train": TrainConfig fields, "step", "epoch",
       "batch" (next batch within the epoch), "best_val_loss", "rng" (dropout
       generator state), "command", ...}
Fields added later, absent from older checkpoints (absent: what those runs did):
       "vocab_end": true when the model has an end-of-record symbol, id len(vocab),
       after the characters (a records run: train.records "lines" or "paragraphs");
       "corpus_bytes", "corpus_sha256": the corpus's size and content hash;
       "parent": {"path", "sha256", "corpus", "step"}: the checkpoint a fine-tune
       (--init-from) started from;
       "weights": "ema" (with "ema_decay", "ema_span_steps"): ema.npz, the averaged
       weights alone, no optimizer or carried state (sample, eval, --init-from; not
       --resume).

Saving is atomic: the file is written to a temporary name in the same folder, flushed
to disk, then renamed over the target, so a crash mid-save leaves the old file intact.
Loading always uses ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import Vocab
from .errors import CharlstmError
from .model import CharLSTM, ModelConfig, param_shapes

FORMAT = "charlstm-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    meta: dict
    params: dict
    optim: dict = field(default_factory=dict)
    state: tuple | None = None                         # (h, c) carried between batches

    @property
    def model_config(self) -> ModelConfig:
        return ModelConfig(**self.meta["model"])

    @property
    def vocab(self) -> Vocab:
        return Vocab.from_meta(self.meta)

    def model(self) -> CharLSTM:
        """The model, with these parameters (no copy)."""
        dtype = np.dtype(self.meta.get("dtype", "float32"))
        return CharLSTM(self.model_config, seed=None, dtype=dtype, params=self.params)


def file_sha256(path) -> str:
    """The sha256 of a file's bytes (a fine-tune records its parent checkpoint's)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0)                                 # reading it means setting it
    os.umask(mask)
    return mask


def save(path, meta: dict, params: dict, optim: dict | None = None, state=None):
    """Write a checkpoint atomically (temporary file + fsync + rename)."""
    path = Path(path)
    arrays = {"meta": np.frombuffer(json.dumps(dict(meta, format=FORMAT, version=VERSION),
                                               ensure_ascii=False).encode("utf-8"), np.uint8)}
    arrays.update({f"param/{k}": v for k, v in params.items()})
    arrays.update({f"optim/{k}": v for k, v in (optim or {}).items()})
    if state is not None:
        arrays["state/h"], arrays["state/c"] = state
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file readable by its owner alone, and the rename keeps that:
        # give it the permissions any new file gets under the user's umask instead.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path) -> Checkpoint:
    """Read and validate a checkpoint; any problem is a one-line CharlstmError."""
    path = Path(path)
    if path.is_dir():
        raise CharlstmError(f"{path} is a folder; pass a checkpoint file such as "
                            f"{path / 'best.npz'}")
    if not path.exists():
        raise CharlstmError(f"checkpoint {path} not found")
    bad = f"{path} is not a valid charlstm checkpoint"
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":                 # every .npz is a zip archive
            raise CharlstmError(f"{bad}: the file is truncated or not an .npz")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise CharlstmError(f"{path} holds pickled Python objects; refusing to load it "
                                "(a charlstm checkpoint never does, and unpickling can run code)")
        raise CharlstmError(f"{bad} ({e})")
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as e:
        raise CharlstmError(f"{bad}: the file is truncated or not an .npz ({type(e).__name__})")
    if "meta" not in arrays:
        raise CharlstmError(f"{bad}: it has no metadata")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CharlstmError(f"{bad}: its metadata is not JSON")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CharlstmError(f"{bad}: unknown format")
    if meta.get("version") != VERSION:
        raise CharlstmError(f"{path} has checkpoint format version {meta.get('version')}; "
                            f"this charlstm reads version {VERSION} (upgrade charlstm)")
    params = {k[6:]: v for k, v in arrays.items() if k.startswith("param/")}
    optim = {k[6:]: v for k, v in arrays.items() if k.startswith("optim/")}
    state = (arrays["state/h"], arrays["state/c"]) if "state/h" in arrays else None
    ck = Checkpoint(meta, params, optim, state)
    _validate(ck, bad)
    return ck


def _validate(ck: Checkpoint, bad: str):
    """The parameters must be exactly the ones the stored config builds."""
    try:
        cfg = ck.model_config.validate()
        vocab = ck.vocab
    except (TypeError, KeyError, ValueError) as e:
        raise CharlstmError(f"{bad}: bad model config ({e})")
    if len(vocab) != cfg.vocab_size:
        raise CharlstmError(f"{bad}: vocabulary has {len(vocab)} characters, config says "
                            f"{cfg.vocab_size}")
    expected = param_shapes(cfg)
    got = {k: v.shape for k, v in ck.params.items()}
    if expected != got:
        raise CharlstmError(f"{bad}: parameters do not match its model config")
    for k, v in ck.params.items():
        if v.dtype.kind != "f":
            raise CharlstmError(f"{bad}: parameter {k} is not floating point")
