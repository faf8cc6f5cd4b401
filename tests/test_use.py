"""sample, eval, plot, info and download, on a checkpoint trained here on a generated corpus."""

import hashlib
import http.server
import math
import re
import struct
import threading

import numpy as np
import pytest

from charlstm import checkpoint as ckpt
from charlstm import download as dl
from charlstm.cli import app
from charlstm.errors import CharlstmError
from charlstm.evaluate import score_text
from charlstm.sample import next_char_probs, sample, stop_at
from charlstm.train import TrainConfig, train

from conftest import make_text, run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model overfit on a short repeated text: (checkpoint path, training text)."""
    d = tmp_path_factory.mktemp("trained")
    text = "the quick brown fox jumps over the lazy dog.\n" * 60
    (d / "text.txt").write_text(text)
    cfg = TrainConfig(hidden_size=48, embed_size=16, num_layers=1, batch_size=4, seq_len=32,
                      dropout=0.0, lr=1e-2, max_steps=250, eval_every=125, sample_chars=0, quiet=True)
    train(d / "text.txt", cfg, run_dir=d / "run", log=lambda s: None)
    return d / "run" / "best.npz", d / "text.txt"


def out(runner, *args):
    r = runner.invoke(app, list(map(str, args)))
    return r


# ------------------------------------------------------------------ sample

def test_seeded_sampling_is_reproducible_and_length_exact(runner, trained):
    ck, _ = trained
    a = out(runner, "sample", ck, "--length", "80", "--seed", "3")
    b = out(runner, "sample", ck, "--length", "80", "--seed", "3")
    c = out(runner, "sample", ck, "--length", "80", "--seed", "4", "--temperature", "2")
    assert a.exit_code == 0 and a.stdout == b.stdout and a.stdout != c.stdout
    assert len(a.stdout) == 80 + 1                     # + the final newline


def test_greedy_is_deterministic_and_equals_top_k_1(runner, trained):
    ck, _ = trained
    g1 = out(runner, "sample", ck, "--length", "60", "--greedy", "--prime", "the ")
    g2 = out(runner, "sample", ck, "--length", "60", "--greedy", "--prime", "the ", "--seed", "9")
    k1 = out(runner, "sample", ck, "--length", "60", "--top-k", "1", "--prime", "the ", "--seed", "5")
    assert g1.stdout == g2.stdout == k1.stdout
    assert g1.stdout.startswith("the quick brown fox")  # the overfit model knows its text


def test_prime_is_echoed_and_length_counts_after_it(runner, trained):
    ck, _ = trained
    r = out(runner, "sample", ck, "--prime", "lazy ", "--length", "10", "--seed", "0")
    assert r.exit_code == 0 and r.stdout.startswith("lazy ") and len(r.stdout) == 5 + 10 + 1


class Spy:
    """A model that records the ids it reads (iter_sample calls forward, then step)."""

    def __init__(self, model):
        self.model, self.read = model, []

    def init_state(self, n):
        return self.model.init_state(n)

    def forward(self, x, state):
        self.read += x[0].tolist()
        return self.model.forward(x, state)

    def step(self, ids, state):
        self.read += ids.tolist()
        return self.model.step(ids, state)


def test_a_prime_is_read_after_a_newline_not_from_a_bare_zero_state(trained):
    """A stream's training shows a zero state once an epoch: a prime read from one begins
    garbled, so the model reads a newline first (model.js does the same)."""
    from charlstm.sample import iter_sample
    c = ckpt.load(trained[0])
    spy = Spy(c.model())
    text = "".join(iter_sample(spy, c.vocab, 3, prime="lazy", greedy=True))
    assert c.vocab.decode(spy.read[:5]) == "\nlazy" and len(spy.read) == 5 + 2
    assert text == "".join(sample(c.model(), c.vocab, 3, prime="lazy", greedy=True)[4:])
    spy = Spy(c.model())                               # no prime: after the newline alone
    "".join(iter_sample(spy, c.vocab, 3, greedy=True))
    assert c.vocab.decode(spy.read[:1]) == "\n" and len(spy.read) == 3


def test_without_a_newline_in_the_vocabulary_a_prime_is_read_from_a_zero_state(tmp_path):
    from charlstm.sample import iter_sample
    p = tmp_path / "flat.txt"
    p.write_text("abcabd " * 100)
    train(p, TrainConfig(hidden_size=8, embed_size=4, num_layers=1, batch_size=2, seq_len=8,
                         max_steps=2, sample_chars=0, quiet=True),
          run_dir=tmp_path / "r", log=lambda s: None)
    c = ckpt.load(tmp_path / "r" / "latest.npz")
    spy = Spy(c.model())
    "".join(iter_sample(spy, c.vocab, 2, prime="ab", greedy=True))
    assert c.vocab.decode(spy.read[:2]) == "ab" and len(spy.read) == 2 + 1


def test_num_samples(runner, trained):
    ck, _ = trained
    r = out(runner, "sample", ck, "--length", "20", "--num-samples", "3", "--seed", "1")
    # Samples may hold blank lines of their own: each comes after a line that says which it is.
    parts = re.split(r"^--- sample (\d) of 3\n", r.stdout, flags=re.M)
    assert r.exit_code == 0 and parts[0] == "" and parts[1::2] == ["1", "2", "3"]
    assert [len(t) for t in parts[2::2]] == [21, 21, 21]   # 20 characters and a newline


def test_non_ascii_prime_in_vocabulary(tmp_path):
    p = tmp_path / "u.txt"
    p.write_text("héllo wörld ✓ " * 200)
    train(p, TrainConfig(hidden_size=16, embed_size=8, num_layers=1, batch_size=2, seq_len=16,
                         max_steps=5, sample_chars=0, quiet=True),
          run_dir=tmp_path / "r", log=lambda s: None)
    r = run_cli("sample", tmp_path / "r" / "latest.npz", "--prime", "wörld ✓", "--length", "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("wörld ✓") and len(r.stdout) == 7 + 5 + 1


@pytest.mark.parametrize("flags,match", [
    (["--prime", "QZ"], 'outside the model\'s vocabulary: "Q" (U+0051), "Z" (U+005A)'),
    (["--temperature", "0"], "temperature (--temperature) must be greater than 0"),
    (["--temperature", "-1"], "temperature (--temperature) must be greater than 0"),
    (["--length", "-5"], "length (--length) must be 0 or more"),
    (["--top-k", "0"], "top_k (--top-k) must be at least 1"),
    (["--top-p", "0"], "top_p (--top-p) must be in (0, 1]"),
    (["--top-p", "1.5"], "top_p (--top-p) must be in (0, 1]"),
])
def test_sample_bad_input(trained, flags, match):
    ck, _ = trained
    r = run_cli("sample", ck, *flags)
    assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr


def test_top_p_and_top_k_probabilities():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    np.testing.assert_allclose(next_char_probs(logits, top_p=0.7), [0.5 / 0.8, 0.3 / 0.8, 0, 0])
    np.testing.assert_allclose(next_char_probs(logits, top_k=2), [0.5 / 0.8, 0.3 / 0.8, 0, 0])
    np.testing.assert_allclose(next_char_probs(logits), [0.5, 0.3, 0.15, 0.05])
    hot = next_char_probs(logits, temperature=0.5)
    np.testing.assert_allclose(hot, np.array([0.25, 0.09, 0.0225, 0.0025]) / 0.365)


def test_stop_ends_a_sample_once_its_text_is_generated(runner, trained):
    ck, _ = trained
    r = out(runner, "sample", ck, "--prime", "the ", "--greedy", "--stop", "fox", "--stop", "zz")
    assert r.exit_code == 0 and r.stdout == "the quick brown fox\n"
    r = out(runner, "sample", ck, "--prime", "the", "--greedy", "--stop", "the", "--length", "40")
    assert r.stdout == "the quick brown fox jumps over the\n"   # the prime does not count
    assert "".join(stop_at(iter("abcabc"), ["ca"])) == "abca"


def test_prime_file_gives_a_multi_line_prime(runner, trained, tmp_path):
    ck, _ = trained
    prime = tmp_path / "prime.txt"
    prime.write_text("lazy dog.\nthe quick")
    r = out(runner, "sample", ck, "--prime-file", prime, "--greedy", "--stop", "over",
            "--num-samples", "2")
    assert r.exit_code == 0
    assert r.stdout == ("--- sample 1 of 2\nlazy dog.\nthe quick brown fox jumps over\n"
                        "--- sample 2 of 2\nlazy dog.\nthe quick brown fox jumps over\n")


def test_sample_library_matches_cli(runner, trained):
    ck, _ = trained
    c = ckpt.load(ck)
    text = sample(c.model(), c.vocab, 30, prime="the ", rng=np.random.default_rng(7))
    r = out(runner, "sample", ck, "--length", "30", "--prime", "the ", "--seed", "7")
    assert r.stdout == text + "\n"


def test_sample_reads_latest_of_a_running_training(corpus, tmp_path):
    import subprocess, sys, time
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "charlstm", "train", str(corpus), "--run-dir",
                             str(run), "--minutes", "0.3", "--checkpoint-every", "2",
                             "--hidden-size", "32", "--embed-size", "8", "--layers", "1",
                             "--batch-size", "8", "--seq-len", "16", "--quiet"],
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while not (run / "latest.npz").exists() and time.time() < deadline:
            time.sleep(0.05)
        for _ in range(5):                             # while it is being rewritten
            r = run_cli("sample", run / "latest.npz", "--length", "20", "--seed", "0")
            assert r.returncode == 0, r.stderr
    finally:
        proc.terminate()
        proc.wait()


# ------------------------------------------------------------------ eval

def test_eval_on_training_text_of_overfit_model(runner, trained):
    ck, text = trained
    r = out(runner, "eval", ck, text)
    assert r.exit_code == 0, r.output
    vals = {line.split(":")[0]: line.split(":")[1].split()[0] for line in r.stdout.splitlines()}
    loss, bpc, ppl = float(vals["loss"]), float(vals["bits/char"]), float(vals["perplexity"])
    assert loss < 0.1
    assert bpc == pytest.approx(loss / math.log(2), abs=2e-4)
    assert ppl == pytest.approx(math.exp(loss), abs=2e-3)


def test_eval_counts_unknown_characters_or_refuses_with_strict(runner, trained, tmp_path):
    ck, text = trained
    p = tmp_path / "t.txt"
    p.write_text("the QUICK brown fox!")
    r = out(runner, "eval", ck, p)
    assert r.exit_code == 0 and "excluded 6 characters" in r.stdout and '"Q" (U+0051)' in r.stdout
    res = run_cli("eval", ck, p, "--strict")
    assert res.returncode == 2 and "outside the model's vocabulary" in res.stderr


def test_score_text_equals_a_hand_loop(trained):
    ck, _ = trained
    c = ckpt.load(ck)
    m, v = c.model(), c.vocab
    s = "the lazy dog jumps over the quick brown fox."
    ids = v.encode(s)
    state, nll = m.init_state(1), 0.0
    for a, b in zip(ids[:-1], ids[1:]):
        logits, state = m.step(np.array([a]), state)
        z = logits[0].astype(np.float64)
        nll += np.log(np.exp(z - z.max()).sum()) + z.max() - z[b]
    assert score_text(m, v, s, chunk=7)["loss"] == pytest.approx(nll / (len(ids) - 1), rel=1e-4)


def test_eval_bad_input(trained, tmp_path):
    ck, text = trained
    r = run_cli("eval", ck, tmp_path / "missing.txt")
    assert r.returncode == 2 and "not found" in r.stderr
    bad = tmp_path / "bad.npz"
    bad.write_text("nope")
    r = run_cli("eval", bad, text)
    assert r.returncode == 2 and "not a valid charlstm checkpoint" in r.stderr


# ------------------------------------------------------------------ plot and info

def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_plot_one_and_several_runs(runner, trained, tmp_path):
    ck, _ = trained
    run = ck.parent
    o = tmp_path / "one.png"
    r = out(runner, "plot", run, "-o", o)
    assert r.exit_code == 0, r.output
    w, h = png_size(o)
    assert (w, h) == (800, 500) and o.stat().st_size > 10_000
    o2 = tmp_path / "two.png"
    r = out(runner, "plot", run, run / "metrics.csv", "-o", o2, "--x", "chars")
    assert r.exit_code == 0 and png_size(o2) == (800, 500)
    r = run_cli("plot", tmp_path / "nothing", "-o", tmp_path / "x.png")
    assert r.returncode == 2 and "no metrics.csv" in r.stderr
    r = run_cli("plot", run, "--x", "weeks", "-o", tmp_path / "x.png")
    assert r.returncode == 2 and "--x must be one of" in r.stderr


def test_runs_figure_draws_train_and_val_from_the_metrics(trained):
    from charlstm.plot import read_metrics, runs_figure
    m = read_metrics(trained[0].parent)
    fig = runs_figure([("a", m), ("b", m)], x="chars")
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert {"a: train", "a: val", "b: train", "b: val"} <= set(lines)
    assert list(lines["a: val"].get_ydata()) == m["val_loss"]
    assert list(lines["b: train"].get_xdata()) == m["chars"]
    assert ax.get_xlabel() == "characters seen" and ax.get_title() == "charlstm loss"
    with pytest.raises(CharlstmError, match="--x must be one of"):
        runs_figure([("a", m)], x="weeks")


def test_info(runner, trained):
    ck, _ = trained
    r = out(runner, "info", ck)
    assert r.exit_code == 0
    for s in ("version 1", "1-layer lstm, hidden 48, embed 16", "parameters:", "vocabulary",
              "\\n", "best validation loss", "step", "command:"):
        assert s in r.stdout, s
    p = ckpt.load(ck)
    assert f"{sum(v.size for v in p.params.values()):,}" in r.stdout


# ------------------------------------------------------------------ download

@pytest.fixture
def server():
    """A local HTTP server on 127.0.0.1 serving /good.txt; anything else is a 404."""
    body = make_text(3000).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/good.txt":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(500 if self.path == "/boom" else 404)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", body
    httpd.shutdown()


def test_download_good_file(runner, server, tmp_path, monkeypatch):
    base, body = server
    spec = dict(dl.CORPORA["tinyshakespeare"], sha256=hashlib.sha256(body).hexdigest())
    monkeypatch.setitem(dl.CORPORA, "tinyshakespeare", spec)
    r = out(runner, "download", "tinyshakespeare", "--dest", tmp_path / "data",
            "--url", f"{base}/good.txt")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "data" / "tinyshakespeare.txt").read_bytes() == body
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["tinyshakespeare.txt"]


def test_download_names_checks_makemores_sha256(runner, server, tmp_path, monkeypatch):
    base, body = server
    spec = dl.CORPORA["names"]
    assert spec["url"] == "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
    r = run_cli("download", "names", "--dest", tmp_path / "d", "--url", f"{base}/good.txt")
    assert r.returncode == 2 and "wrong sha256" in r.stderr         # not the real list
    assert not (tmp_path / "d").exists()               # not even the folder it made
    monkeypatch.setitem(dl.CORPORA, "names", dict(spec, sha256=hashlib.sha256(body).hexdigest()))
    r = out(runner, "download", "names", "--dest", tmp_path / "d", "--url", f"{base}/good.txt")
    assert r.exit_code == 0 and (tmp_path / "d" / "names.txt").read_bytes() == body


@pytest.mark.parametrize("path,match", [("/good.txt", "wrong sha256"), ("/boom", "HTTP 500"),
                                        ("/missing", "HTTP 404")])
def test_download_failures_leave_no_file(server, tmp_path, path, match):
    base, _ = server
    r = run_cli("download", "tinyshakespeare", "--dest", tmp_path / "data", "--url", base + path)
    assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "data").exists()            # not even the folder it made


def test_download_unknown_name_and_unreachable(tmp_path):
    r = run_cli("download", "war-and-peace", "--dest", tmp_path)
    assert r.returncode == 2 and "unknown corpus" in r.stderr
    r = run_cli("download", "tinyshakespeare", "--dest", tmp_path / "d",
                "--url", "http://127.0.0.1:9/none")     # port 9: nothing listens
    assert r.returncode == 2 and "failed" in r.stderr
    assert not (tmp_path / "d").exists()
