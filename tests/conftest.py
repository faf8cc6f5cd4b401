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


def _write(p, data):
    (p.write_bytes if isinstance(data, bytes) else p.write_text)(data)
    return p


# Bad corpora: (id, make(tmp_path) -> the path to pass, expected message fragment).
BAD_CORPORA = [
    ("missing", lambda d: d / "missing.txt", "not found"),
    ("empty", lambda d: _write(d / "e.txt", ""), "is empty"),
    ("no-txt", lambda d: (d / "sub").mkdir() or d / "sub", "no .txt files"),
    ("binary", lambda d: _write(d / "bin.txt", b"\x7fELF\x00\x00\x01"), "binary"),
    ("not-utf8", lambda d: _write(d / "x.txt", b"ok \xff\xfe bad"), "byte offset 3"),
]
BAD_CORPORA_PARAMS = [pytest.param(make, match, id=name) for name, make, match in BAD_CORPORA]


# Small, fast model settings for end-to-end runs.
SMALL = ["--hidden-size", "32", "--embed-size", "16", "--layers", "1", "--batch-size", "8",
         "--dropout", "0",
         "--seq-len", "16", "--quiet", "--sample-chars", "40"]


@pytest.fixture(autouse=True)
def _corpus_cache(tmp_path_factory, monkeypatch):
    """Every test (and the CLI subprocesses it starts) caches encoded corpora in a temp folder."""
    monkeypatch.setenv("CHARLSTM_CACHE", str(tmp_path_factory.mktemp("corpus-cache")))


@pytest.fixture(params=["numpy", "compiled"])
def lstm_path(request):
    """Run the test on each LSTM path: the NumPy loops of layers.py and the compiled
    kernels of charlstm.fused (skipped where numba, the [fast] extra, is not installed)."""
    from charlstm import fused
    if request.param == "compiled":
        if not fused.AVAILABLE:
            pytest.skip("numba is not installed (pip install -e '.[fast]')")
        params = getattr(request.node, "callspec", None)
        if params is not None and params.params.get("cell", "lstm") != "lstm":
            pytest.skip("the compiled kernels are the LSTM's; this cell runs NumPy either way")
    prev = fused.use(request.param == "compiled")
    yield request.param
    fused.use(prev)
