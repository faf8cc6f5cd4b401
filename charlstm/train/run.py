"""Starting a run: ``train()`` settles the settings (a resumed run's own, a fine-tune's
model shape, a records run's defaults, a time budget's size), loads the data, opens the
run folder and hands them to a Trainer; the helpers below it, in the order it calls them.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, fields, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from .. import checkpoint as ckpt
from .. import sizing
from ..data import Vocab
from ..errors import CharlstmError
from ..model import ModelConfig, init_params
from .config import (BEFORE_FIELD, DEFAULT_MINUTES, FIXED, MUTABLE, RECORDS_DEFAULTS,
                     SHAPE_FLAGS, TrainConfig, TrainResult)
from .data import TrainData
from .folder import RunFolder
from .trainer import Trainer


def train(corpus, cfg: TrainConfig | None = None, run_dir=None, resume=None,
          overwrite: bool = False, explicit: set | None = None, log=None,
          command: str | None = None, clock=time.perf_counter,
          init_from=None) -> TrainResult:
    """Train on ``corpus`` (file, folder or built-in name) and return a TrainResult.

    resume: a run folder or checkpoint to continue. explicit: the names of the config
    fields the user set (a resumed run refuses a fixed field that differs from the
    checkpoint's; unset fields are taken from the checkpoint).
    init_from: a checkpoint whose weights a new run starts from (a fine-tune): its model
    shape, the union of its vocabulary and the corpus's (``inherit_params``); a fresh
    optimizer, schedule and data position; any other setting as given.
    log: a function for progress lines (default: to stderr, above the progress bar).
    clock: seconds as a float (the time budget, the rate's progress and the logs use it).
    """
    cfg = cfg or TrainConfig()
    explicit = set(explicit if explicit is not None else
                   (f.name for f in fields(TrainConfig)
                    if getattr(cfg, f.name) != getattr(TrainConfig(), f.name)))
    cfg.validate()
    ck = parent = parent_info = None
    if resume is not None:
        if init_from is not None:
            raise CharlstmError("--init-from starts a new run from a checkpoint's weights; "
                                "it cannot be combined with --resume, which continues a run")
        run_dir, ck_path = _resolve_resume(resume)
        ck = ckpt.load(ck_path)
        if ck.meta.get("weights") == "ema":
            raise CharlstmError(f"cannot resume from {ck_path}: it holds averaged weights "
                                "alone (for sample, eval, export or --init-from), not the "
                                f"optimizer's state; resume from {run_dir / 'latest.npz'}")
        cfg = _resumed_config(cfg, ck, explicit)
        corpus = corpus if corpus is not None else ck.meta["corpus"]
    elif corpus is None:
        raise CharlstmError("no corpus given: pass a text file, a folder or a built-in name")
    if ck is None and cfg.records:
        cfg = _with_records_defaults(cfg, explicit)
    if init_from is not None:
        parent = ckpt.load(init_from)
        cfg = _init_from_config(cfg, parent, explicit)
        parent_info = {"path": str(init_from), "sha256": ckpt.file_sha256(init_from),
                       "corpus": parent.meta.get("corpus"), "step": parent.meta.get("step")}

    # A fine-tune's vocabulary is a union; resumed, it is the checkpoint's (the same
    # corpus adds nothing to it).
    base_vocab = (parent.vocab if parent is not None else
                  ck.vocab if ck is not None and ck.meta.get("parent") else None)
    data = TrainData.load(corpus, cfg, ck.meta if ck is not None else None, base_vocab)
    if ck is not None:
        _check_same_corpus(ck, data, corpus, ck_path)
        if data.vocab != ck.vocab:
            raise CharlstmError(f"corpus {corpus} is not the one this run was trained on "
                                "(its vocabulary differs); pass the original corpus")
    choice, budget_s = None, 60 * (cfg.minutes or DEFAULT_MINUTES)
    if ck is None and parent is None and sizing.applies(cfg, explicit, budget_s):
        cfg, choice = sizing.choose(cfg, data, budget_s, clock)
    if ck is None:
        folder = RunFolder.create(run_dir if run_dir is not None
                                  else _default_run_dir(data.name), overwrite)
    else:
        folder = RunFolder.reopen(run_dir)
    start = None
    if parent is not None:
        start = inherit_params(parent, data.vocab, cfg.model_config(len(data.vocab)),
                               cfg.seed, np.dtype(cfg.dtype), cfg.init)
    meta = _run_meta(cfg, data, corpus, ck, command, parent_info,
                     choice.to_meta() if choice is not None else None)
    trainer = Trainer(cfg, data, folder, meta, ck, log, clock, start_params=start,
                      spent_s=choice.probe_s if choice is not None else 0.0)
    return trainer.run()


def _resolve_resume(resume) -> tuple[Path, Path]:
    """--resume RUN_DIR or CKPT -> (run folder, checkpoint file)."""
    p = Path(resume)
    if p.is_dir():
        if not (p / "latest.npz").exists():
            raise CharlstmError(f"cannot resume {p}: it has no latest.npz")
        return p, p / "latest.npz"
    if not p.exists():
        raise CharlstmError(f"cannot resume {p}: no such run folder or checkpoint")
    return p.parent, p


def _resumed_config(cfg: TrainConfig, ck, explicit: set) -> TrainConfig:
    """The settings a resumed run goes on with: the checkpoint's, except the MUTABLE
    fields the user set. A FIXED field set to another value is refused."""
    # Older runs lack newer fields: they ran with the trainer's default of today, except
    # where that default changed since (BEFORE_FIELD: what they ran with).
    saved = {**asdict(TrainConfig()), **BEFORE_FIELD, **ck.meta["train"]}
    differ = [f for f in FIXED if f in explicit and getattr(cfg, f) != saved[f]]
    if differ:
        raise CharlstmError(
            "cannot resume with different settings: " + ", ".join(
                f"--{f.replace('_', '-')} {getattr(cfg, f)} (run has {saved[f]})"
                for f in differ) + "; drop these flags or start a new run")
    return TrainConfig(**{f: saved[f] for f in FIXED},
                       **{f: getattr(cfg, f) if f in explicit else saved.get(f)
                          for f in MUTABLE}).validate()


def _with_records_defaults(cfg: TrainConfig, explicit: set) -> TrainConfig:
    """A new records run: RECORDS_DEFAULTS for the fields the user did not set."""
    return replace(cfg, **{k: v for k, v in RECORDS_DEFAULTS.items() if k not in explicit})


def _init_from_config(cfg: TrainConfig, parent, explicit: set) -> TrainConfig:
    """A fine-tune's settings: the parent checkpoint's model shape, everything else as
    given (or the defaults of a new run). A shape flag that differs is refused."""
    m = parent.model_config
    differ = [f for f in SHAPE_FLAGS if f in explicit and getattr(cfg, f) != getattr(m, f)]
    if differ:
        raise CharlstmError(
            "--init-from takes the model's shape from its checkpoint: " + ", ".join(
                f"{SHAPE_FLAGS[f]} {getattr(cfg, f)} (checkpoint has {getattr(m, f)})"
                for f in differ) + "; drop these flags (every other setting may be set anew)")
    return replace(cfg, **{f: getattr(m, f) for f in SHAPE_FLAGS}).validate()


def _check_same_corpus(ck, data: TrainData, corpus, ck_path):
    """--resume continues on the run's own text: refuse a corpus whose bytes differ
    (checkpoints from before the content hash: whose length in characters differs)."""
    had = ck.meta
    if had.get("corpus_sha256"):
        same = (had["corpus_sha256"], had.get("corpus_bytes")) == (data.sha256, data.n_bytes)
        was = f"{had.get('corpus_bytes', 0):,} bytes, sha256 {had['corpus_sha256'][:12]}"
        now = f"{data.n_bytes:,} bytes, sha256 {data.sha256[:12]}"
    else:
        same = had.get("corpus_chars") in (None, data.chars)
        was, now = f"{had.get('corpus_chars', 0):,} characters", f"{data.chars:,}"
    if not same:
        raise CharlstmError(
            f"corpus {corpus} is not the one this run was trained on (it has {now}; the "
            f"run's had {was}); --resume continues a run exactly, on its own text. To train "
            f"this model on new text, start a new run from it: charlstm train {corpus} "
            f"--init-from {ck_path}")


def _default_run_dir(corpus_name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{corpus_name}-{stamp}"


def inherit_params(parent, vocab: Vocab, model_cfg: ModelConfig, seed: int, dtype,
                   init: str = "fan_in") -> dict:
    """A fine-tune's first weights: the parent checkpoint's, over the run's vocabulary.

    Every symbol the parent knows keeps its embedding row, output column and output bias;
    a symbol it does not know (a character only in the new corpus, or the end-of-record
    symbol new to a records run) gets the values a fresh model of this vocabulary and
    seed would start with (``init_params``). The recurrent layers are the parent's.
    """
    fresh = init_params(model_cfg, np.random.default_rng(seed), dtype, init)
    old = parent.params
    table = parent.vocab.lookup(vocab)                 # run id -> parent id, or -1
    new_ids, old_ids = np.flatnonzero(table >= 0), table[table >= 0]
    p = {k: (v if k in ("embed", "out.W", "out.b") else old[k].astype(dtype))
         for k, v in fresh.items()}
    p["embed"][new_ids] = old["embed"][old_ids]
    p["out.W"][:, new_ids] = old["out.W"][:, old_ids]
    p["out.b"][new_ids] = old["out.b"][old_ids]
    return p


def _run_meta(cfg: TrainConfig, data: TrainData, corpus, ck, command, parent=None,
              size_choice=None) -> dict:
    """What every checkpoint of the run records besides where the run is.

    corpus_bytes, corpus_sha256: the corpus's size and the sha256 of its bytes (a resume
    refuses other text); parent: for a fine-tune (--init-from), the checkpoint it
    started from {"path", "sha256" of the file, "corpus", "step"}; size_choice: how a
    new run chose its size for its budget (``sizing.SizeChoice.to_meta``).
    """
    meta = {
        "model": cfg.model_config(len(data.vocab)).to_dict(), **data.vocab.to_meta(),
        "dtype": cfg.dtype, "train": asdict(cfg), "corpus": str(corpus),
        "corpus_source": data.source, "corpus_chars": data.chars,
        "corpus_bytes": data.n_bytes, "corpus_sha256": data.sha256,
        "steps_per_epoch": data.steps_per_epoch, "eval_slice_chars": data.slice_chars,
        "command": (ck.meta.get("command") if ck is not None else None)
                   or command or " ".join(sys.argv),
    }
    parent = ck.meta.get("parent") if ck is not None else parent
    if parent:
        meta["parent"] = parent
    size_choice = ck.meta.get("size_choice") if ck is not None else size_choice
    if size_choice:
        meta["size_choice"] = size_choice
    if command and ck is not None:
        meta["resumed_with"] = command
    return meta
