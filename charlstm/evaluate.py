"""Using a trained checkpoint: score a text, describe a checkpoint."""

from __future__ import annotations

import math

import numpy as np

from .checkpoint import Checkpoint
from .data import Batches, RecordBatches, Vocab, split_records
from .errors import CharlstmError
from .model import CharLSTM
from .train import DEFAULT_MINUTES, evaluate as mean_loss


def score_text(model: CharLSTM, vocab: Vocab, text: str, strict: bool = False,
               chunk: int = 256) -> dict:
    """Loss of ``model`` on ``text``, reading it as one stream with the state carried.

    Characters outside the vocabulary are scored as the unknown symbol when the
    vocabulary has one (rare characters folded); otherwise they are dropped and counted.
    strict refuses them either way.
    Returns {"loss" (nats/char), "bits_per_char", "perplexity", "chars" (scored),
    "unknown" ({char: count})}.
    """
    unknown = vocab.unknown(text)
    if unknown and strict:
        how = ("score them as the unknown symbol" if vocab.unknown_char is not None
               else "skip them")
        raise CharlstmError("text has characters outside the model's vocabulary: "
                            + Vocab.describe(unknown) + f"; without --strict eval would {how}")
    ids = vocab.encode(text, strict=False)
    if len(ids) < 2:
        raise CharlstmError(f"text has {len(ids)} characters in the model's vocabulary; "
                            "at least 2 are needed to score one prediction")
    loss = mean_loss(model, Batches(ids, N=1, T=chunk, partial=True))
    n = len(ids) - 1
    return {"loss": loss, "bits_per_char": loss / math.log(2), "perplexity": math.exp(loss),
            "chars": n, "unknown": unknown}


def score_records(model: CharLSTM, vocab: Vocab, text: str, mode: str, strict: bool = False,
                  batch_size: int = 64, seq_len: int = 256) -> dict:
    """Loss of a records model on the records of ``text`` (``split_records`` in ``mode``),
    each read as in training: from a zero state, [END] + record predicting record + [END].

    Characters outside the vocabulary: as ``score_text``. Returns {"loss" (nats per
    predicted symbol, end-of-record included), "bits_per_char", "perplexity", "records",
    "chars" (predictions scored), "unknown"}.
    """
    if not vocab.end:
        raise CharlstmError("this model was trained on one stream of text, not on records")
    records = split_records(text, mode)
    if not records:
        raise CharlstmError(f"the text has no records (--records {mode}: every "
                            f"{mode[:-1]} is empty)")
    unknown = vocab.unknown("".join(records))
    if unknown and strict and vocab.unknown_char is None:
        raise CharlstmError("text has characters outside the model's vocabulary: "
                            + Vocab.describe(unknown))
    encoded = [vocab.encode(r, strict=False) for r in records]
    lengths = np.array([len(r) for r in encoded], dtype=np.int64)
    ids = np.concatenate(encoded + [np.zeros(1, vocab.dtype)])
    batches = RecordBatches(ids, np.cumsum(lengths) - lengths, lengths, vocab.end_id,
                            batch_size, seq_len)
    loss = mean_loss(model, batches)
    return {"loss": loss, "bits_per_char": loss / math.log(2), "perplexity": math.exp(loss),
            "records": len(records), "chars": batches.chars_per_epoch, "unknown": unknown}


def printable_vocab(chars: str) -> str:
    """The vocabulary as one readable line: control characters and space escaped."""
    names = {"\n": "\\n", "\t": "\\t", "\r": "\\r", " ": "␣"}
    return "".join(names.get(c, c if c.isprintable() else f"\\u{ord(c):04x}") for c in chars)


def describe(ck: Checkpoint, path="") -> str:
    """A human-readable summary of a checkpoint (what ``charlstm info`` prints)."""
    m, meta = ck.model_config, ck.meta
    train = meta.get("train", {})
    best = meta.get("best_val_loss")
    n_params = sum(int(np.prod(v.shape)) for v in ck.params.values())
    lines = [
        f"checkpoint: {path}",
        f"format: {meta['format']} version {meta['version']}",
        f"model: {m.num_layers}-layer {m.cell}, hidden {m.hidden_size}, embed {m.embed_size}, "
        f"vocab {m.vocab_size}, dropout {m.dropout}"
        + (f" (embedding {m.input_dropout})" if m.input_dropout != m.dropout else "")
        + f", {meta.get('dtype', 'float32')}",
        f"parameters: {n_params:,}",
        f"vocabulary ({len(meta['vocab'])}): {printable_vocab(meta['vocab'])}"
        + (" + the end-of-record symbol" if meta.get("vocab_end") else ""),
    ]
    if train.get("records"):
        what = {"lines": "one per line", "paragraphs": "separated by blank lines"}
        lines.append(f"records: {train['records']} ({what.get(train['records'], '?')}), each "
                     "from a zero state, ending in the end-of-record symbol; loss per "
                     "predicted symbol")
    if meta.get("weights") == "ema":
        lines.append(f"weights: averaged over about the last {meta.get('ema_span_steps', '?'):,} "
                     f"steps (--ema-decay {meta.get('ema_decay')}), alone: for sample, eval, "
                     "export and --init-from; to resume, use latest.npz")
    if "step" in meta:
        spe = meta.get("steps_per_epoch") or 0
        ep = f" (epoch {meta['step'] / spe:.2f})" if spe else ""
        lines.append(f"trained: step {meta['step']}{ep}, "
                     f"{meta.get('elapsed_s', 0) / 60:.1f} min")
    if best is not None:
        sliced = meta.get("eval_slice_chars")
        unit = "symbol" if train.get("records") else "char"
        lines.append(f"best validation loss: {best:.4f} nats/{unit} = {best / math.log(2):.4f} "
                     f"bits/{unit}" + (f" (on the first {sliced:,} chars of the split, which "
                                       "every evaluation scores)" if sliced else ""))
    if "step" in meta:
        full = meta.get("full_val_loss")
        unit = "symbol" if train.get("records") else "char"
        lines.append(f"whole validation split: {full:.4f} nats/{unit} = {full / math.log(2):.4f} "
                     f"bits/{unit}, at this step" if full is not None else
                     "whole validation split: not scored at this step (a run scores it when it "
                     "ends; charlstm eval scores any text)")
    if train:
        lines.append(f"training: {train.get('optimizer')} lr {train.get('lr')}, weight decay "
                     f"{train.get('weight_decay', 0)}, batch {train.get('batch_size')} x seq "
                     f"{train.get('seq_len')}, grad clip {train.get('grad_clip')} "
                     f"({train.get('clip_mode')}), seed {train.get('seed')}")
        lines.append(f"schedule: {_schedule(train, meta)}")
        ema = train.get("ema_decay", 0)
        lines.append(f"weight average: --ema-decay {ema:g}, saved as ema.npz at the end of "
                     "each invocation" if ema else "weight average: none (--ema-decay 0)")
        threads = meta.get("threads")
        lines.append(f"threads: {threads}" if threads is not None else
                     f"threads: {train.get('threads', 0) or 'auto'} (asked for)")
    if meta.get("corpus"):
        lines.append(f"corpus: {meta.get('corpus_source', meta['corpus'])} "
                     f"({meta.get('corpus_chars', '?'):,} chars"
                     + (f", {meta['corpus_bytes']:,} bytes, sha256 {meta['corpus_sha256'][:16]}"
                        if meta.get("corpus_sha256") else "") + ")")
    if meta.get("size_choice"):
        lines.append(meta["size_choice"]["why"])
    if meta.get("parent"):
        par = meta["parent"]
        lines.append(f"fine-tuned from: {par.get('path')} (sha256 {str(par.get('sha256'))[:16]}; "
                     f"trained on {par.get('corpus')}, step {par.get('step')})")
    if meta.get("command"):
        lines.append(f"command: {meta['command']}")
    if meta.get("resumed_with"):
        lines.append(f"last resumed with: {meta['resumed_with']}")
    return "\n".join(lines)


def _schedule(train: dict, meta: dict) -> str:
    """The learning-rate schedule a checkpoint trained with, in words."""
    kind, warmup = train.get("lr_schedule", "constant"), train.get("warmup_steps", 0)
    if kind == "step":
        text = (f"step: x{train.get('lr_decay')} every {train.get('lr_decay_every')} "
                "epoch(s)")
    elif kind in ("linear", "cosine"):
        total = meta.get("total_steps")
        if "total_steps" not in meta:                  # saved before it was recorded
            spe, epochs = meta.get("steps_per_epoch"), train.get("epochs")
            limits = [n for n in (train.get("max_steps"),
                                  max(1, round(epochs * spe)) if epochs and spe else None) if n]
            total = min(limits) if limits else None
        budget = (f"{total} steps" if total else
                  f"{train.get('minutes') or DEFAULT_MINUTES:g} min per invocation")
        text = (f"{kind} decay from {train.get('lr')} to {train.get('min_lr', 0)} over {budget}"
                f", {100 * meta.get('lr_progress', 0):.0f}% done")
    else:
        text = kind
    return text + (f", warm-up {warmup} steps" if warmup else "")
