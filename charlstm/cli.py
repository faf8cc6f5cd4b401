"""The ``charlstm`` command line: a thin typer layer over the library functions.

Every user error is a ``CharlstmError``; ``main`` prints it as one line and exits 2.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from .errors import CharlstmError
from .train import TrainConfig

_DEFAULTS = TrainConfig()

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="A character-level LSTM language model, written by hand in NumPy.",
)


class Cell(str, Enum):
    lstm = "lstm"
    gru = "gru"
    rnn = "rnn"


def _print_version(value: bool):
    if value:
        from . import __version__
        typer.echo(f"charlstm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    # eager: it runs while the options are read, before a missing command is an error
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
):
    """charlstm: train, sample, evaluate and inspect character-level LSTMs."""


def fail(message: str, code: int = 2):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# --------------------------------------------------------------------------- gradcheck

@app.command()
def gradcheck(
    cell: Cell = typer.Option(Cell.lstm, help="Recurrent cell to check."),
    layers: int = typer.Option(2, min=1, help="Number of recurrent layers."),
    hidden_size: int = typer.Option(5, min=1, help="Hidden size H."),
    embed_size: int = typer.Option(4, min=1, help="Embedding size E."),
    vocab_size: int = typer.Option(6, min=1, help="Vocabulary size V."),
    batch_size: int = typer.Option(2, min=1, help="Batch size N."),
    seq_len: int = typer.Option(3, min=1, help="Sequence length T."),
    seed: int = typer.Option(0, help="Random seed for weights and data."),
):
    """Check every analytic gradient against finite differences (float64, dropout off)."""
    from .gradcheck import THRESHOLD, check_model, format_table

    typer.echo(f"Gradient check: {layers}-layer {cell.value}, V={vocab_size} E={embed_size} "
               f"H={hidden_size} N={batch_size} T={seq_len}, float64, seed {seed}")
    typer.echo("Each analytic gradient (backward pass) is compared with a centred finite "
               "difference of the loss;\nrelative error = |analytic - numeric| / "
               "(|analytic| + |numeric|), largest over the elements.\n")
    rows = check_model(cell=cell.value, layers=layers, hidden=hidden_size, N=batch_size,
                       T=seq_len, vocab=vocab_size, embed=embed_size, seed=seed)
    typer.echo(format_table(rows))
    bad = [r.name for r in rows if not r.ok]
    typer.echo("")
    if bad:
        typer.echo(f"FAILED: {', '.join(bad)} above {THRESHOLD:.0e}. A correct float64 "
                   "backward gives ~1e-8; errors of 1e-3 or more mean a wrong term in the "
                   "backward pass of the layer that produces that gradient.")
        raise typer.Exit(1)
    typer.echo(f"PASSED: every max relative error is below {THRESHOLD:.0e}.")


# --------------------------------------------------------------------------- cache

@app.command()
def cache(clear: bool = typer.Option(False, "--clear", help="Delete every cached corpus.")):
    """Show the encoded corpora kept for quick restarts (or delete them with --clear)."""
    from .data import cache_dir, cached_corpora, clear_cache

    if clear:
        files, freed = clear_cache()
        typer.echo(f"removed {files} files ({freed / 1e6:,.1f} MB) from {cache_dir()}")
        return
    entries = cached_corpora()
    typer.echo(f"corpus cache: {cache_dir()} (set CHARLSTM_CACHE to move it)")
    for e in entries:
        typer.echo(f"  {e['source']}: {e['chars']:,} chars, vocab {e['vocab']}, "
                   f"{e['bytes'] / 1e6:,.1f} MB")
    total = sum(e["bytes"] for e in entries)
    typer.echo(f"{len(entries)} corpora, {total / 1e6:,.1f} MB; charlstm cache --clear deletes them")


# --------------------------------------------------------------------------- check

class Template(str, Enum):
    rnn = "rnn"
    lstm = "lstm"
    all = "all"
    dlai = "dlai"


@app.command(no_args_is_help=True)
def check(
    file: Optional[Path] = typer.Argument(None, help="Your .py file or .ipynb notebook with the coursework functions."),
    only: Optional[List[str]] = typer.Option(None, "--only", help="Check just this function "
                                             "(and the forward a backward needs); repeatable."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON record per function "
                                 "(status, max relative errors, diagnosis ids), for autograders."),
    timeout: float = typer.Option(20.0, min=0.1, help="Seconds allowed per function, and per top-level statement while the file loads."),
    template: Optional[Template] = typer.Option(None, help="Print a starting file (signatures, "
                                                "shapes, equations) and exit: rnn, lstm, all (cs231n) "
                                                "or dlai (deeplearning.ai week 1)."),
):
    """Check YOUR hand-written RNN/LSTM layers and diagnose what is wrong.

    This imports and RUNS the code in FILE: use it on files you wrote or trust.

    The file's API is recognised by its function names: cs231n's rnn_layers.py (rnn/lstm step and sequence forward/backward, word embedding, temporal affine, temporal softmax loss), deeplearning.ai's Sequence Models week 1 (rnn_cell_forward ... lstm_backward) or min-char-rnn's lossFun. Every function it defines is compared with charlstm's reference in float64, each gradient also with finite differences of your own forward. A wrong result is matched against a catalogue of the usual mistakes, which names the mistake, the equation it breaks and the fix. A file of none of these APIs gets the list of what it defines and an adapter for charlstm.check_gradients.

    The file's top-level statements run one by one: one that fails to compile, raises or runs too long is skipped and listed, and the rest is checked (Python 2 print statements and xrange are read as Python 3).

    Exit status: 0 if at least one function you write is implemented and everything implemented passes (the functions the starter file provides do not count on their own); 1 otherwise; 2 if nothing was checked: nothing in the file can be loaded, or it defines none of the APIs above.
    """
    from .checker import check as run_check, template as make_template

    if template is not None:
        typer.echo(make_template(template.value), nl=False)
        return
    if file is None:
        fail("give your .py file (or --template lstm to print a starting file)")
    report = run_check(file, only=only, timeout=timeout)
    typer.echo(report.to_json() if as_json else report.text())
    raise typer.Exit(report.exit_code)


# --------------------------------------------------------------------------- train

def _opt(field, help, **kw):
    """An option whose default is None (so a resumed run knows what was set), with the
    trainer's default, ``TrainConfig.<field>``, shown in the help (and a records run's,
    when it differs)."""
    from .train import RECORDS_DEFAULTS
    default = f"{getattr(_DEFAULTS, field)}"
    if field in RECORDS_DEFAULTS:
        default += f"; with --records: {RECORDS_DEFAULTS[field]}"
    return typer.Option(None, help=f"{help} \\[default: {default}]",  # \\[: not markup
                        show_default=False, **kw)


@app.command(no_args_is_help=True)
def train(
    corpus: Optional[str] = typer.Argument(
        None, help="Text file, folder of .txt files, or built-in corpus name (python-docs). "
                   "Optional with --resume."),
    run_dir: Optional[Path] = typer.Option(None, help="Run folder \\[default: runs/CORPUS-TIMESTAMP]."),
    resume: Optional[Path] = typer.Option(None, help="Continue the run in this folder (or from this checkpoint)."),
    init_from: Optional[Path] = typer.Option(None, help="Start a new run from this checkpoint's weights (fine-tune on new text): its model shape, the union of its vocabulary and the corpus's, a fresh optimizer and schedule."),
    records: Optional[str] = _opt("records", "Train on records, each an independent sequence ending in an end-of-record symbol: lines (one per line) or paragraphs (separated by blank lines)."),
    overwrite: bool = typer.Option(False, help="Replace an existing run folder's files."),
    hidden_size: Optional[int] = _opt("hidden_size", "Hidden units per layer (H); unset, under a time budget, see --auto-size."),
    layers: Optional[int] = _opt("num_layers", "Number of recurrent layers."),
    cell: Optional[Cell] = _opt("cell", "Recurrent cell: lstm, gru or rnn."),
    embed_size: Optional[int] = _opt("embed_size", "Character embedding size (E)."),
    dropout: Optional[float] = _opt("dropout", "Dropout between layers and before the output, in [0, 1); unset, under a time budget, see --auto-size."),
    auto_size: Optional[bool] = typer.Option(None, "--auto-size/--no-auto-size", help="Under a time budget, with --hidden-size and --dropout unset: time a few steps of 2 x 384 (dropout 0.35), then 2 x 512 (dropout 0.5), and take the biggest that would read the corpus at least 10 times in the budget, else 2 x 256 (dropout 0.2), untimed (the log says what it chose and why). --no-auto-size: 256 and 0.2. \\[default: auto-size]", show_default=False),
    init: Optional[str] = _opt("init", "A fresh model's weights: fan_in (N(0, 1/fan-in), forget-gate bias 1) or uniform (PyTorch's U(-1/sqrt(H), 1/sqrt(H)))."),
    embed_dropout: Optional[float] = _opt("embed_dropout", "Dropout on the character embedding, in [0, 1)."),
    seq_len: Optional[int] = _opt("seq_len", "Characters per sequence (T): how far back gradients flow."),
    batch_size: Optional[int] = _opt("batch_size", "Parallel streams per batch (N)."),
    val_frac: Optional[float] = _opt("val_frac", "Fraction of the corpus (its end) held out for validation; with --records, of the records, chosen at random."),
    encoding: Optional[str] = _opt("encoding", "Text encoding of the corpus files."),
    min_char_count: Optional[int] = _opt("min_char_count", "Fold characters seen fewer times into one unknown symbol (U+FFFD)."),
    max_vocab: Optional[int] = _opt("max_vocab", "Keep at most this many symbols: the most frequent, plus the unknown symbol."),
    optimizer: Optional[str] = _opt("optimizer", "adam, adagrad, rmsprop or sgd (with momentum)."),
    lr: Optional[float] = _opt("lr", "Learning rate."),
    momentum: Optional[float] = _opt("momentum", "Momentum for sgd."),
    lr_schedule: Optional[str] = _opt("lr_schedule", "constant, step (x --lr-decay every --lr-decay-every epochs), linear or cosine (both down to --min-lr at the end of the budget)."),
    lr_decay: Optional[float] = _opt("lr_decay", "Factor for the step schedule."),
    lr_decay_every: Optional[int] = _opt("lr_decay_every", "Epochs between step decays."),
    warmup_steps: Optional[int] = _opt("warmup_steps", "Linear learning-rate warm-up steps."),
    min_lr: Optional[float] = _opt("min_lr", "Final learning rate of the linear and cosine schedules."),
    weight_decay: Optional[float] = _opt("weight_decay", "Decoupled weight decay on the weight matrices (AdamW style; 0: off)."),
    grad_clip: Optional[float] = _opt("grad_clip", "Clip threshold (0 disables)."),
    clip_mode: Optional[str] = _opt("clip_mode", "norm (global norm) or value (element-wise)."),
    ema_decay: Optional[float] = _opt("ema_decay", "Keep an exponential moving average of the weights, over about the last 1/(1 - decay) steps, saved at the end as ema.npz and scored beside best.npz and the last weights; in [0, 1), 0: none."),
    seed: Optional[int] = _opt("seed", "Random seed (weights, dropout)."),
    dtype: Optional[str] = _opt("dtype", "float32 or float64."),
    epochs: Optional[float] = typer.Option(None, help="Stop after this many epochs in total (fractions allowed)."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many steps in total."),
    minutes: Optional[float] = typer.Option(None, help="Wall-clock budget for this invocation, in minutes "
                                                       "\\[default: 10 when no other limit is given]."),
    eval_every: Optional[int] = _opt("eval_every", "Steps between validation passes (with a sample and a plot)."),
    eval_chars: Optional[int] = _opt("eval_chars", "Validation characters each periodic evaluation scores (the same slice, from the start of the split); 0: the whole split. Default: an eighth of the characters trained between evaluations (about 4% of the run). The whole split is scored at the end either way."),
    checkpoint_every: Optional[int] = _opt("checkpoint_every", "Steps between latest.npz saves."),
    sample_chars: Optional[int] = _opt("sample_chars", "Characters sampled into samples.txt at each evaluation (0: none)."),
    quiet: bool = typer.Option(False, help="Log lines only, no progress bar."),
    threads: Optional[int] = typer.Option(None, help="Threads a batch is split over (each a share of the sequences); 0: one per core, at most 2, for --hidden-size up to 256, or up to 512 when --batch-size is a multiple of 32 (measured faster there), else 1. A run resumes bit for bit at the thread count it ran with. \\[default: 0]", show_default=False),
    stop_eval_seconds: Optional[float] = _opt("stop_eval_seconds", "After Ctrl-C, SIGTERM or SIGHUP: seconds the final evaluation may take before latest.npz is saved (0: none); a second signal skips it."),
):
    """Train a character-level model on CORPUS; writes runs/NAME/ (checkpoints, metrics, plot)."""
    from .train import train as run_training

    given = {"hidden_size": hidden_size, "num_layers": layers,
             "cell": cell.value if cell else None, "embed_size": embed_size, "dropout": dropout,
             "embed_dropout": embed_dropout, "init": init, "auto_size": auto_size, "weight_decay": weight_decay,
             "seq_len": seq_len, "batch_size": batch_size, "val_frac": val_frac,
             "encoding": encoding, "min_char_count": min_char_count, "max_vocab": max_vocab,
             "records": records,
             "optimizer": optimizer, "lr": lr, "momentum": momentum,
             "lr_schedule": lr_schedule, "lr_decay": lr_decay, "lr_decay_every": lr_decay_every,
             "warmup_steps": warmup_steps, "min_lr": min_lr, "grad_clip": grad_clip,
             "clip_mode": clip_mode, "ema_decay": ema_decay, "seed": seed, "dtype": dtype, "epochs": epochs,
             "max_steps": max_steps, "minutes": minutes, "eval_every": eval_every, "eval_chars": eval_chars,
             "checkpoint_every": checkpoint_every, "sample_chars": sample_chars,
             "threads": threads, "stop_eval_seconds": stop_eval_seconds}
    explicit = {k for k, v in given.items() if v is not None}
    if quiet:
        explicit.add("quiet")
    cfg = TrainConfig(**{k: v for k, v in given.items() if v is not None}, quiet=quiet)
    if resume is None and corpus is None:
        fail("no corpus given: pass a text file, a folder of .txt files, or python-docs")
    if resume is not None and init_from is not None:
        fail("--init-from starts a new run from a checkpoint's weights; it cannot be "
             "combined with --resume, which continues a run")
    if resume is not None and run_dir is not None:
        fail("--run-dir cannot be combined with --resume (a run continues in its own folder)")
    if init_from is not None and corpus is None:
        fail("--init-from needs the corpus to train on: charlstm train CORPUS --init-from CKPT")
    result = run_training(corpus, cfg, run_dir=run_dir, resume=resume, overwrite=overwrite,
                          explicit=explicit, command="charlstm " + " ".join(sys.argv[1:]),
                          init_from=init_from)
    if result.stopped_by == "interrupt":
        import signal
        name = result.signal or "SIGINT"
        try:                                           # after SIGHUP the terminal may be gone
            typer.echo(f"{'interrupted' if name == 'SIGINT' else 'stopped by ' + name}; "
                       f"latest.npz saved. Resume with: charlstm train --resume "
                       f"{result.run_dir}", err=True)
        except OSError:
            pass
        raise typer.Exit(128 + signal.Signals[name].value)   # 130, 143, 129: as the shell says


# --------------------------------------------------------------------------- using a model

def _load_model(path: Path):
    from . import checkpoint as ckpt
    ck = ckpt.load(path)
    return ck, ck.model(), ck.vocab


@app.command(name="sample", no_args_is_help=True)
def sample_cmd(
    checkpoint: Path = typer.Argument(..., help="A .npz checkpoint (best.npz, latest.npz)."),
    length: int = typer.Option(500, help="Characters to generate (after the prime text); a records model writes records instead (--max-length)."),
    temperature: float = typer.Option(1.0, help="Softmax temperature, > 0: lower is safer, higher is wilder."),
    top_k: Optional[int] = typer.Option(None, help="Sample only from the k most likely characters."),
    top_p: Optional[float] = typer.Option(None, help="Sample from the smallest set with this much probability, in (0, 1]."),
    greedy: bool = typer.Option(False, help="Always take the most likely character."),
    prime: str = typer.Option("", help="Text the model reads first; the output starts with it (for a records model: the start of each record)."),
    prime_file: Optional[Path] = typer.Option(None, help="Read the prime text from this file (UTF-8; a long or multi-line prime)."),
    stop: Optional[List[str]] = typer.Option(None, "--stop", help="End a sample once this text has been generated (it is printed); repeatable."),
    seed: Optional[int] = typer.Option(None, help="Random seed: the same seed gives the same text."),
    num_samples: Optional[int] = typer.Option(None, min=1, help="How many samples to print, each after a line '--- sample K of N' (a records model: records, one per line) \\[default: 1; 10 for a records model].", show_default=False),
    max_length: Optional[int] = typer.Option(None, min=0, help="Records model: at most this many characters generated per record (after the prime) \\[default: 500].", show_default=False),
    exclude: Optional[Path] = typer.Option(None, help="Records model: skip samples that are records of this file (e.g. the training corpus) and draw again; prints how many were skipped."),
    allow_unknown: bool = typer.Option(False, help="Let the model emit its unknown symbol (U+FFFD), for a vocabulary with rare characters folded."),
):
    """Generate text from a checkpoint, streamed to stdout as it is produced.

    A records model (trained with --records) prints whole records, one per line (a blank
    line between paragraphs), each from a zero state until its end-of-record symbol.
    """
    import numpy as np

    from .sample import check_options, check_prime, iter_sample, read_text_file, stop_at

    check_options(length, temperature, top_k, top_p)
    if prime_file is not None:
        if prime:
            fail("give the prime text with --prime or --prime-file, not both")
        prime = read_text_file(prime_file, "--prime-file")
    stop_at((), stop or ())                            # refuses an empty --stop early
    ck, model, vocab = _load_model(checkpoint)
    rng = np.random.default_rng(seed)
    records = ck.meta.get("train", {}).get("records")
    if records:
        _sample_records(model, vocab, records, num_samples or 10, 500 if max_length is None
                        else max_length, prime, stop or (), exclude, rng,
                        dict(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy,
                             allow_unknown=allow_unknown))
        return
    for flag, value in (("--max-length", max_length), ("--exclude", exclude)):
        if value is not None:
            fail(f"{flag} is for a records model (trained with --records); this one was "
                 "trained on one stream of text: use --length and --num-samples")
    check_prime(vocab, prime)                          # before any output
    num_samples = num_samples or 1
    for n in range(num_samples):
        if num_samples > 1:                            # samples have blank lines of their own
            sys.stdout.write(f"{chr(10) if n else ''}--- sample {n + 1} of {num_samples}\n")
        sys.stdout.write(prime)
        for ch in stop_at(iter_sample(model, vocab, length, prime, temperature=temperature,
                                      top_k=top_k, top_p=top_p, greedy=greedy, rng=rng,
                                      allow_unknown=allow_unknown), stop or ()):
            sys.stdout.write(ch)
            sys.stdout.flush()
    sys.stdout.write("\n")


def _sample_records(model, vocab, mode, num, max_length, prime, stop, exclude, rng, options):
    """Print ``num`` records of a records model, skipping those found in ``exclude``."""
    from .data import split_records
    from .sample import check_options, read_text_file, sample_record

    check_options(max_length, options["temperature"], options["top_k"], options["top_p"])
    if mode == "lines" and "\n" in prime:
        fail("the prime text has a newline, but this model's records are single lines "
             "(--records lines); give the start of one line")
    known = set()
    if exclude is not None:
        known = set(split_records(read_text_file(exclude, "--exclude"), mode))
    sep = "\n\n" if mode == "paragraphs" else "\n"
    printed = skipped = 0
    tries = 50 * num + 100                             # a model that only repeats its corpus
    for _ in range(tries):
        if printed == num:
            break
        r = sample_record(model, vocab, max_length, prime, stop=stop, rng=rng, **options)
        if r in known:
            skipped += 1
            continue
        sys.stdout.write(("" if printed == 0 else sep) + r)
        sys.stdout.flush()
        printed += 1
    sys.stdout.write("\n")
    if exclude is not None:
        typer.echo(f"skipped {skipped} of {printed + skipped} samples already in {exclude}"
                   + ("" if printed == num else
                      f"; stopped after {tries} tries with {printed} new ones"), err=True)


@app.command(name="eval", no_args_is_help=True)
def eval_cmd(
    checkpoint: Path = typer.Argument(..., help="A .npz checkpoint."),
    text: str = typer.Argument(..., help="What to score, as train reads it: a text file, a folder of .txt files, or python-docs."),
    strict: bool = typer.Option(False, help="Refuse text with characters outside the vocabulary (folded into the unknown symbol or not)."),
    encoding: Optional[str] = typer.Option(None, help="Text encoding of the files \\[default: the one the model was trained with]."),
):
    """Loss of a checkpoint on a text: nats/char, bits/char, perplexity."""
    from .data import Vocab, load_corpus
    from .evaluate import score_text

    ck, model, vocab = _load_model(checkpoint)
    encoding = encoding or ck.meta.get("train", {}).get("encoding", "utf-8")
    corpus = load_corpus(text, encoding)
    records = ck.meta.get("train", {}).get("records")
    if records:
        from .evaluate import score_records
        r = score_records(model, vocab, corpus.text, records, strict)
        typer.echo(f"text: {corpus.source} ({r['records']:,} records, {r['chars']:,} predictions "
                   "scored, end-of-record included, each record from a zero state)")
    else:
        r = score_text(model, vocab, corpus.text, strict=strict)
        typer.echo(f"text: {corpus.source} ({r['chars']:,} predictions scored, state carried)")
    if r["unknown"]:
        n, kinds = sum(r["unknown"].values()), len(r["unknown"])
        how = "excluded" if vocab.unknown_char is None else "scored as the unknown symbol"
        listed = ", ".join(Vocab.describe([c]) + (f" x{k}" if k > 1 else "")
                           for c, k in r["unknown"].items())
        typer.echo(f"{how} {n} characters outside the vocabulary"
                   + (f" ({kinds} distinct)" if kinds != n else "") + f": {listed}")
    unit = "symbol" if records else "char"             # a records loss counts the end symbol
    typer.echo(f"loss: {r['loss']:.4f} nats/{unit}")
    typer.echo(f"bits/{unit}: {r['bits_per_char']:.4f}")
    typer.echo(f"perplexity: {r['perplexity']:.3f}")


@app.command(no_args_is_help=True)
def plot(
    runs: List[Path] = typer.Argument(..., help="Run folders or metrics.csv files (several: one chart)."),
    output: Path = typer.Option(Path("loss.png"), "-o", "--output", help="PNG to write."),
    x: str = typer.Option("steps", help="x axis: steps, chars or time."),
):
    """Train and validation loss curves (nats and bits per character) into one PNG."""
    from .plot import metrics_path, plot_runs, read_metrics

    data = []
    for r in runs:
        p = metrics_path(r)
        label = p.parent.name if p.name == "metrics.csv" else p.stem
        data.append((label, read_metrics(p)))
    try:
        plot_runs(data, output, x=x)
    except OSError as e:
        fail(f"cannot write {output}: {e.strerror}")
    typer.echo(f"wrote {output}")


@app.command(no_args_is_help=True)
def info(checkpoint: Path = typer.Argument(..., help="A .npz checkpoint.")):
    """What a checkpoint holds: config, size, vocabulary, progress, how it was made."""
    from . import checkpoint as ckpt
    from .evaluate import describe

    typer.echo(describe(ckpt.load(checkpoint), checkpoint))


@app.command(no_args_is_help=True)
def export(
    checkpoint: Path = typer.Argument(..., help="A .npz checkpoint."),
    html: Optional[Path] = typer.Option(None, "--html", help="Write a one-file web page that writes with the model in any browser (no network, nothing installed)."),
    onnx: Optional[Path] = typer.Option(None, "--onnx", help="Write ONNX graphs: MODEL.onnx (a whole sequence) and MODEL.step.onnx (one step); needs pip install 'charlstm\\[onnx]'."),
):
    """Use the model elsewhere: a web page (--html) and/or ONNX graphs (--onnx)."""
    from . import checkpoint as ckpt
    from .export import export_html, export_onnx

    if html is None and onnx is None:
        fail("say what to write: --html PAGE.html and/or --onnx MODEL.onnx")
    ck = ckpt.load(checkpoint)
    if html is not None:
        page = export_html(ck, html, checkpoint)
        typer.echo(f"wrote {page} ({page.stat().st_size / 1e6:.1f} MB): open it in a browser")
    if onnx is not None:
        for path in export_onnx(ck, onnx, checkpoint):
            typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command(no_args_is_help=True)
def download(
    name: str = typer.Argument(..., help="Corpus name: tinyshakespeare or names (makemore's 32k names, for --records lines)."),
    dest: Path = typer.Option(Path("data"), help="Folder to save it in."),
    url: Optional[str] = typer.Option(None, help="Download from this address instead (a mirror); the checksum is still checked."),
    force: bool = typer.Option(False, help="Download again even if the file exists."),
):
    """Download a public corpus and check its sha256."""
    from .download import download as fetch

    path = fetch(name, dest, url=url, force=force)
    typer.echo(f"{name}: {path} ({path.stat().st_size:,} bytes, sha256 ok)")


# --------------------------------------------------------------------------- inside the LSTM

@app.command()
def gradflow(
    ckpt: Optional[Path] = typer.Option(None, "--ckpt", help="Measure this trained model (and a random RNN of its size)."),
    text: Optional[Path] = typer.Option(None, help="Take the input sequences from this text file \\[default: random characters]."),
    seq_len: int = typer.Option(100, min=1, help="Sequence length T: the loss sits on step T."),
    batch_size: int = typer.Option(16, min=1, help="Sequences averaged over."),
    hidden_size: int = typer.Option(128, min=1, help="Hidden size of the random models (ignored with --ckpt)."),
    forget_bias: float = typer.Option(1.0, help="Forget-gate bias of the random LSTM (charlstm initialises 1.0)."),
    rnn_scale: float = typer.Option(1.0, help="Scale of the RNN's recurrent weights (1.0: N(0, 1/H) entries)."),
    seed: int = typer.Option(0, help="Random seed for weights and inputs."),
    output: Path = typer.Option(Path("gradflow.png"), "-o", "--output", help="PNG to write."),
):
    """Gradient norm reaching each earlier step, LSTM vs GRU vs vanilla RNN (loss on the last step)."""
    import numpy as np

    from . import checkpoint as ckpt_mod
    from .data import Vocab, load_corpus
    from .gradflow import gradient_flow, plot_flow, random_model, random_models

    rng = np.random.default_rng(seed)
    if ckpt is not None:
        ck = ckpt_mod.load(ckpt)
        model, vocab = ck.model(), ck.vocab
        cfg = model.cfg
        _, rnn = random_models(cfg.vocab_size, cfg.hidden_size, 1, cfg.embed_size, seed,
                               rnn_scale=rnn_scale, dtype=model.dtype)
        models = {f"trained {cfg.cell} ({ckpt.name})": model, "random rnn": rnn}
        V = cfg.vocab_size
    else:
        lstm, rnn = random_models(65, hidden_size, 1, 64, seed, forget_bias, rnn_scale)
        gru = random_model("gru", 65, hidden_size, 1, 64, seed)
        models = {f"lstm (forget bias {forget_bias:g})": lstm, "gru": gru,
                  f"rnn (Wh scale {rnn_scale:g})": rnn}
        vocab, V = None, 65
    if text is not None:
        body = load_corpus(text).text
        if vocab is None:                              # the random models read V characters
            vocab = Vocab("".join(sorted(set(body))[:V]))
        ids = vocab.encode(body, strict=False).astype(np.int64)
        if len(ids) < seq_len:
            fail(f"{text} has {len(ids)} usable characters; --seq-len {seq_len} needs at least {seq_len}")
        starts = rng.integers(0, len(ids) - seq_len + 1, batch_size)
        x = np.stack([ids[s:s + seq_len] for s in starts])
    else:
        x = rng.integers(0, V, (batch_size, seq_len))
    flows = {name: gradient_flow(m, x) for name, m in models.items()}
    try:
        plot_flow(flows, output)
    except OSError as e:
        fail(f"cannot write {output}: {e.strerror}")
    dists = [d for d in (1, 10, 50, 100) if d <= seq_len]
    typer.echo(f"Loss on step T={seq_len} only; mean over {batch_size} sequences of the "
               "gradient norm at distance T - t:")
    typer.echo(f"{'model':<34}" + "".join(f"{f'd={d}':>11}" for d in dists))
    for name, f in flows.items():
        typer.echo(f"{(name + ': dL/dh'):<34}" + "".join(f"{f['dh'][d]:>11.2e}" for d in dists))
        if f["dc"] is not None:
            typer.echo(f"{(name + ': dL/dc'):<34}" + "".join(f"{f['dc'][d]:>11.2e}" for d in dists))
    typer.echo(f"wrote {output}")


@app.command(no_args_is_help=True)
def visualize(
    checkpoint: Path = typer.Argument(..., help="A trained .npz checkpoint."),
    text: Optional[str] = typer.Option(None, help="A text file, or the text itself \\[default: the start of the run's validation split]."),
    length: int = typer.Option(1500, min=1, help="Characters to show."),
    layer: int = typer.Option(-1, help="Layer to look at (-1: the top one)."),
    kind: Optional[str] = typer.Option(None, help="cell (tanh of the cell state) or hidden (h) \\[default: cell for an LSTM, hidden for a GRU or RNN]."),
    score: str = typer.Option("correlation", help="Rank cells by correlation with text features, or variance."),
    cells: int = typer.Option(6, min=1, help="How many cells to show."),
    output: Path = typer.Option(Path("cells.html"), "-o", "--output", help="HTML page to write."),
    png: Optional[Path] = typer.Option(None, help="Heatmap PNG to write \\[default: beside the page]."),
):
    """A self-contained HTML page (and a PNG heatmap) of what individual cells track."""
    from . import checkpoint as ckpt_mod
    from .data import load_corpus
    from .visualize import activations, rank_cells, write_heatmap, write_html

    ck = ckpt_mod.load(checkpoint)
    model, vocab = ck.model(), ck.vocab
    if text is None:
        train_cfg = ck.meta.get("train", {})
        try:
            body = load_corpus(ck.meta["corpus"], train_cfg.get("encoding", "utf-8")).text
        except (KeyError, CharlstmError):
            fail(f"cannot read the corpus this model was trained on "
                 f"({ck.meta.get('corpus', 'unknown')}); pass --text")
        n_val = int(round(len(body) * train_cfg.get("val_frac", 0.1)))
        body = body[len(body) - n_val:]
    elif Path(text).is_file():
        body = load_corpus(text).text
    elif _looks_like_a_path(text):
        fail(f"--text {text}: no such file (a value without spaces that looks like a path "
             "is read as one); check the path, or pass the text itself")
    else:
        body = text
    body = body[:length]
    acts = activations(model, vocab, body, layer=layer, kind=kind,
                       records=ck.meta.get("train", {}).get("records"))
    ranked = rank_cells(acts["values"], acts["text"], score=score, k=cells)
    png = png or output.with_suffix(".png")
    try:
        write_html(acts, ranked, output)
        write_heatmap(acts, ranked, png)
    except OSError as e:
        fail(f"cannot write the output: {e.strerror}")
    for j, s, why in ranked:
        typer.echo(f"cell {j}: {why}")
    typer.echo(f"wrote {output} and {png}")


def _looks_like_a_path(text: str) -> bool:
    """A --text value meant as a file: no whitespace, and a folder or a file suffix."""
    if not text or any(c.isspace() for c in text):
        return False
    return "/" in text or "\\" in text or Path(text).suffix.lower() in (
        ".txt", ".md", ".py", ".rst", ".csv", ".json", ".html", ".xml", ".tex", ".text")


def main(argv: Optional[List[str]] = None):
    """Entry point: run the app; user errors become one line on stderr and status 2."""
    try:
        app(args=argv, prog_name="charlstm", standalone_mode=True)
    except CharlstmError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
