"""What every export carries: the model's description, its float32 weights, the file writing.

``describe(ck)`` is the one place that reads a checkpoint's metadata for an export: the web page
shows it and samples with it, and the ONNX files keep it in their metadata (key ``charlstm``),
so a program that loads them knows the symbols, the unknown symbol, the state's shape and,
for a records model, the end-of-record symbol that starts and ends each record.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..checkpoint import Checkpoint
from ..errors import CharlstmError
from ..model import param_shapes

FORMAT = "charlstm-export"
VERSION = 1


def model_mode(meta: dict) -> str:
    """How the model writes: "text" (one stream of characters) or "records" (trained with
    ``--records``: independent records, each ended by the end-of-record symbol).

    The one place an export reads the mode, from the field ``charlstm sample`` reads too:
    ``meta["train"]["records"]`` ("lines", "paragraphs", or None for a stream).
    """
    records = (meta.get("train") or {}).get("records")
    if records and not meta.get("vocab_end"):
        raise CharlstmError(f"this checkpoint says it is a records model ({records}) but has "
                            "no end-of-record symbol (no vocab_end in its metadata); it cannot "
                            "be sampled or exported: train it again with --records")
    return "records" if records else "text"


def describe(ck: Checkpoint) -> dict:
    """The model as an export describes it (JSON-able).

    cell, num_layers, hidden_size, embed_size, vocab_size (every symbol the model predicts:
    the characters, and the end-of-record symbol of a records model); vocab: the characters,
    one string each, in id order; unknown_id: the id of the unknown symbol (rare characters
    folded), or None; mode (see ``model_mode``); records: "lines" (one record a line) or
    "paragraphs" (a blank line between records), None for a text model; end_id: the
    end-of-record symbol's id, len(vocab), after the characters (None without one): a
    record is read from a zero state with end_id first, and ends when end_id is written;
    params: [[name, shape], ...] in the order of the weights; num_params; and for the
    reader: corpus (the file or corpus name, no folders), step, val_loss (the best
    validation loss, nats/char (per symbol, for records), or None), dtype "float32".
    """
    cfg, vocab, meta = ck.model_config, ck.vocab, ck.meta
    shapes = param_shapes(cfg)
    corpus = meta.get("corpus")
    mode = model_mode(meta)
    return {
        "format": FORMAT, "version": VERSION, "mode": mode,
        "records": meta["train"]["records"] if mode == "records" else None,
        "end_id": vocab.end_id,
        "cell": cfg.cell, "num_layers": cfg.num_layers, "hidden_size": cfg.hidden_size,
        "embed_size": cfg.embed_size, "vocab_size": cfg.vocab_size,
        "vocab": list(vocab.chars), "unknown_id": vocab.unknown_id,
        "params": [[name, list(shape)] for name, shape in shapes.items()],
        "num_params": int(sum(np.prod(s) for s in shapes.values())),
        "corpus": Path(str(corpus)).name if corpus else None,
        "step": meta.get("step"), "val_loss": meta.get("best_val_loss"), "dtype": "float32",
    }


def float32_params(ck: Checkpoint) -> dict:
    """The parameters as float32 arrays (a float64 checkpoint is rounded), in their order."""
    return {name: np.asarray(ck.params[name], dtype=np.float32)
            for name in param_shapes(ck.model_config)}


def check_target(path, suffixes: tuple, flag: str, checkpoint=None) -> Path:
    """The file an export may write: the right suffix, in a folder that exists, not a folder
    itself and not the checkpoint."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise CharlstmError(f"{flag} {path}: the file name must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise CharlstmError(f"{flag} {path} is a folder; give a file name such as "
                            f"{path / ('model' + suffixes[0])}")
    if not path.parent.is_dir():
        raise CharlstmError(f"{flag} {path}: folder {path.parent} does not exist; create it first")
    if checkpoint is not None and path.exists() and path.resolve() == Path(checkpoint).resolve():
        raise CharlstmError(f"{flag} {path} is the checkpoint itself; choose another name")
    return path


def write_atomic(path: Path, data: bytes):
    """Write ``data`` to ``path`` through a temporary file and a rename: an interrupted export
    never leaves half a file where the previous one was."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)                   # a new file's usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise CharlstmError(f"cannot write {path}: {e.strerror}")
        raise
