"""Shared fixtures: small corpora the tests write themselves, and CLI helpers."""

import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

WORDS = ("the cat dog bird sat ran flew on under over a mat log tree and then "
         "quickly slowly big small red blue").split()


def make_text(n_chars: int, seed: int = 0) -> str:
    """Sentences from a tiny vocabulary: learnable structure, a few KB."""
    rng = np.random.default_rng(seed)
    out, size = [], 0
    while size < n_chars:
        s = " ".join(rng.choice(WORDS, size=rng.integers(3, 8))).capitalize() + ".\n"
        out.append(s)
        size += len(s)
    return "".join(out)[:n_chars]


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(make_text(6000), encoding="utf-8")
    return p


@pytest.fixture
def runner():
    return CliRunner()


def run_cli(*args, timeout=120, **kw):
    """The real console entry point in a subprocess: exit status, stdout, stderr."""
    return subprocess.run([sys.executable, "-m", "charlstm", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kw)


# Small, fast model settings for end-to-end runs.
SMALL = ["--hidden-size", "32", "--embed-size", "16", "--layers", "1", "--batch-size", "8",
         "--seq-len", "16", "--quiet", "--sample-chars", "40"]
