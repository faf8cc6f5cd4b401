"""The training loop: truncated BPTT over char-rnn batches, evaluation, checkpoints, resume.

    from charlstm.train import TrainConfig, train
    result = train("python-docs", TrainConfig(minutes=1), run_dir="runs/demo")

A run folder holds config.json, metrics.csv, latest.npz, best.npz, loss.png and
samples.txt. ``train(..., resume="runs/demo")`` continues it exactly where it stopped;
``train("other.txt", cfg, init_from="runs/demo/best.npz")`` starts a new run (a fine-tune)
from its weights. ``TrainConfig(records="lines")`` trains on records (one name or title
per line), each an independent sequence.

The parts, in the order a run goes through them:

    config.py    TrainConfig, the settings (``validate`` refuses impossible values); which
                 fields a resume keeps (FIXED) or may change (MUTABLE); TrainResult; the errors
    run.py       ``train()``: settles the settings (a resumed run's own, a fine-tune's shape,
                 a time budget's size), loads the data, opens the folder, makes a Trainer
    data.py      TrainData: the training batches, the validation slice and the whole split;
                 ``evaluate``, the mean loss over batches
    folder.py    RunFolder: the one object that writes the run's files, each atomically
    trainer.py   Trainer: ``run()`` (the loop) -> its steps (``next_batch``, ``count``,
                 ``evaluate``, ``save``, ``finish``) and what it logs
    budget.py    Budget, the stopping rules and the share of the budget used; _Meter, the
                 smoothed train loss and the speed
    signals.py   Ctrl-C, SIGTERM and SIGHUP as a flag the loop checks (_StopFlag); stderr
"""

from .budget import Budget, _Meter
from .config import (BEFORE_FIELD, DEFAULT_MINUTES, FIXED, METRICS, MUTABLE, RECORDS_DEFAULTS,
                     SHAPE_FLAGS, Diverged, EvaluationStopped, RunFolderError, TrainConfig,
                     TrainResult)
from .data import TrainData, eval_slice_chars, evaluate
from .folder import RunFolder
from .run import inherit_params, train
from .signals import STOP_SIGNALS, _StopFlag
from .trainer import Trainer

__all__ = ["BEFORE_FIELD", "Budget", "DEFAULT_MINUTES", "Diverged", "EvaluationStopped", "FIXED",
           "METRICS", "MUTABLE", "RECORDS_DEFAULTS", "RunFolder", "RunFolderError",
           "SHAPE_FLAGS", "STOP_SIGNALS", "TrainConfig", "TrainData", "TrainResult", "Trainer",
           "eval_slice_chars", "evaluate", "inherit_params", "train"]
# _StopFlag and _Meter are imported by the tests of those pieces.



