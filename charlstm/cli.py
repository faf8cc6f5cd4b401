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

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="A character-level LSTM language model, written by hand in NumPy.",
)


class Cell(str, Enum):
    lstm = "lstm"
    rnn = "rnn"


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
):
    """charlstm: train, sample, evaluate and inspect character-level LSTMs."""
    if version:
        from . import __version__
        typer.echo(f"charlstm {__version__}")
        raise typer.Exit()


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


def main(argv: Optional[List[str]] = None):
    """Entry point: run the app; user errors become one line on stderr and status 2."""
    try:
        app(args=argv, prog_name="charlstm", standalone_mode=True)
    except CharlstmError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
