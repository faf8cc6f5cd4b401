"""charlstm export: the web page (in headless Chromium) and the ONNX graphs (in onnxruntime).

The page's greedy text must equal `charlstm sample --greedy` character for character, for each
cell with 1 and 2 layers, on models trained a few steps and on random weights, and for records
models (one name a line; paragraphs); the ONNX graphs' logits and states must equal charlstm's
to 1e-5.
"""

import base64
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np
import pytest

from charlstm import checkpoint as ckpt
from charlstm.cli import app, main
from charlstm.data import Vocab
from charlstm.export import describe, export_html, export_onnx, float32_params
from charlstm.model import CharLSTM, ModelConfig
from charlstm.train import TrainConfig, train

from browser import Chromium
from conftest import make_text, run_cli

ROOT = Path(__file__).resolve().parent.parent
CORPUS = make_text(6000) + "ROMEO:\n"                  # docs/export.md primes with ROMEO:
# Random models read these too: characters that HTML, JSON and JavaScript strings treat
# specially, a non-ASCII one, and one outside the BMP (two UTF-16 units in JavaScript).
EXTRA = '<>/&"\'\\\té😀'

# name: (cell, layers, trained?, the prime their greedy text starts from)
MODELS = {
    "lstm-2-trained": ("lstm", 2, True, "The cat sat\non the "),
    "lstm-1-random": ("lstm", 1, False, ""),
    "gru-1-trained": ("gru", 1, True, "A big dog "),
    "gru-2-random": ("gru", 2, False, '<b>"é😀"</b> & \\t\tq'),
    "rnn-2-trained": ("rnn", 2, True, "ROMEO:"),
    "rnn-1-random": ("rnn", 1, False, "q"),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{name: checkpoint path}: each cell with 1 and 2 layers, trained a few steps or random."""
    d = tmp_path_factory.mktemp("export-models")
    (d / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    vocab = Vocab("".join(sorted(set(CORPUS + EXTRA))))
    paths = {}
    for name, (cell, layers, trained, _) in MODELS.items():
        if trained:
            cfg = TrainConfig(cell=cell, num_layers=layers, hidden_size=24, embed_size=8,
                              batch_size=8, seq_len=16, dropout=0.0, lr=1e-2, max_steps=40,
                              eval_every=40, sample_chars=0, quiet=True)
            train(d / "corpus.txt", cfg, run_dir=d / name, log=lambda s: None)
            paths[name] = d / name / "best.npz"
        else:
            cfg = ModelConfig(vocab_size=len(vocab), cell=cell, num_layers=layers,
                              hidden_size=20, embed_size=6)
            paths[name] = d / f"{name}.npz"
            ckpt.save(paths[name], {"model": cfg.to_dict(), **vocab.to_meta(), "dtype": "float32"},
                      CharLSTM(cfg, seed=len(name)).params)
    return paths


def cli(capsys, *args):
    """charlstm ARGS in this process: (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main(list(map(str, args)))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def sample_stdout(checkpoint, prime, length):
    """What `charlstm sample CKPT --greedy --prime P --length N` prints."""
    from typer.testing import CliRunner
    r = CliRunner().invoke(app, ["sample", str(checkpoint), "--greedy", "--prime", prime,
                                 "--length", str(length)])
    assert r.exit_code == 0, r.output
    return r.stdout


def greedy_margin(checkpoint, prime, length):
    """The smallest gap between the two largest logits along charlstm's greedy path: the
    page can only choose differently where this is a few float32 ulps (a near tie)."""
    ck = ckpt.load(checkpoint)
    return _smallest_greedy_gap(ck.model(), ck.vocab.encode(prime or "\n"), length)


def _smallest_greedy_gap(model, ids, steps, end_id=None):
    """Read ``ids``, then follow the argmax for ``steps`` steps (or until ``end_id``): the
    smallest gap between the two largest logits on the way."""
    ids = np.asarray(ids, dtype=np.int64)
    state = model.init_state(1)
    if len(ids) > 1:
        _, state = model.forward(ids[None, :-1], state)
    x, gaps = ids[-1:], []
    for _ in range(steps):
        logits, state = model.step(x, state)
        top2 = np.sort(logits[0])[-2:]
        gaps.append(top2[1] - top2[0])
        x = np.array([np.argmax(logits[0])])
        if x[0] == end_id:
            break
    return min(gaps)


# Records models: a list of made-up names (one a line), and groups of them (paragraphs).
_RNG = np.random.default_rng(0)
_SYLLABLES = ["an", "bo", "ka", "li", "mi", "ra", "to", "el", "su", "ne", "da", "ri"]
NAMES = ["".join(_RNG.choice(_SYLLABLES, _RNG.integers(1, 4))).capitalize() for _ in range(300)]
POEMS = ["\n".join(NAMES[i:i + 1 + i % 4]) for i in range(0, 300, 3)]   # 1 to 3 lines
RECORDS = {"names": ("lines", "\n".join(NAMES) + "\n"),
           "poems": ("paragraphs", "\n\n".join(POEMS) + "\n"),
           "random": ("lines", None)}                 # random weights (see records_models)


@pytest.fixture(scope="module")
def records_models(tmp_path_factory):
    """{name: checkpoint path}: a 1-layer LSTM trained 60 steps on each of RECORDS, and a
    2-layer GRU with random weights ("random", one record a line), whose records run long."""
    d = tmp_path_factory.mktemp("records-models")
    paths = {}
    for name, (mode, text) in RECORDS.items():
        if text is None:
            continue
        (d / f"{name}.txt").write_text(text, encoding="utf-8")
        cfg = TrainConfig(records=mode, hidden_size=24, embed_size=8, batch_size=8, seq_len=16,
                          dropout=0.0, lr=2e-2, max_steps=60, eval_every=60, sample_chars=0,
                          quiet=True)
        train(d / f"{name}.txt", cfg, run_dir=d / name, log=lambda s: None)
        paths[name] = d / name / "best.npz"
    vocab = Vocab("".join(sorted(set("".join(NAMES)))), end=True)
    cfg = ModelConfig(vocab_size=len(vocab), cell="gru", num_layers=2, hidden_size=20, embed_size=6)
    paths["random"] = d / "random.npz"
    ckpt.save(paths["random"], {"model": cfg.to_dict(), **vocab.to_meta(), "dtype": "float32",
                                "train": {"records": "lines"}}, CharLSTM(cfg, seed=1).params)
    return paths


def records_stdout(checkpoint, *args):
    """What `charlstm sample CKPT ARGS` prints (records options among ARGS)."""
    from typer.testing import CliRunner
    r = CliRunner().invoke(app, ["sample", str(checkpoint), *map(str, args)])
    assert r.exit_code == 0, r.output
    return r.stdout


def record_greedy_margin(checkpoint, prime, max_length):
    """greedy_margin for a records model's greedy record (every one is the same): from a zero
    state, the end symbol and the prime read, until the end symbol or max_length characters."""
    ck = ckpt.load(checkpoint)
    vocab = ck.vocab
    return _smallest_greedy_gap(ck.model(), np.concatenate([[vocab.end_id], vocab.encode(prime)]),
                                max_length, end_id=vocab.end_id)


# --------------------------------------------------------------------------- the page, in Chromium

@pytest.fixture(scope="module")
def browser():
    binary = Chromium.find()
    if binary is None:
        pytest.skip("Chromium not found (apt-get install chromium, or set CHROMIUM to its "
                    "path): the page is not tested in a browser here")
    b = Chromium(binary)
    yield b
    b.close()


@pytest.fixture(scope="module")
def pages(models, tmp_path_factory):
    d = tmp_path_factory.mktemp("pages")
    return {name: export_html(ckpt.load(path), d / f"{name}.html") for name, path in models.items()}


def page_url(page, **settings):
    return Path(page).as_uri() + "#" + urlencode(settings, quote_via=quote)


def run_page(browser, page, **settings):
    """Open the page with these settings and autorun: -> (the text of #output, its data-*)."""
    tab = browser.open(page_url(page, autorun=1, **settings))
    try:
        tab.wait_for("document.getElementById('output').dataset.done === '1'")
        return tab.evaluate("document.getElementById('output').textContent"), \
            tab.evaluate("({...document.getElementById('output').dataset})")
    finally:
        tab.close()


@pytest.mark.parametrize("name", MODELS)
def test_page_greedy_text_equals_charlstm_sample(browser, models, pages, name):
    prime, length = MODELS[name][3], 200
    # Exactly equal is the claim when no step is a near tie (see docs/export.md).
    assert greedy_margin(models[name], prime, length) > 1e-4, "a near tie: choose another seed"
    text, data = run_page(browser, pages[name], prime=prime, length=length, greedy=1)
    assert "error" not in data and "stopped" not in data
    assert text + "\n" == sample_stdout(models[name], prime, length)   # the CLI ends the line
    assert text.startswith(prime) and len(text) == len(prime) + length


def test_page_sampling_is_seeded_and_top_k_1_is_greedy(browser, models, pages):
    page, prime = pages["lstm-2-trained"], "The "
    a, _ = run_page(browser, page, prime=prime, length=150, temperature=1.5, seed=3)
    b, _ = run_page(browser, page, prime=prime, length=150, temperature=1.5, seed=3)
    c, _ = run_page(browser, page, prime=prime, length=150, temperature=1.5, seed=4)
    assert a == b != c
    assert a.startswith(prime) and len(a) == len(prime) + 150 and set(a) <= set(CORPUS)
    greedy, _ = run_page(browser, page, prime=prime, length=150, greedy=1)
    top_k_1, _ = run_page(browser, page, prime=prime, length=150, top_k=1, seed=5)
    top_p_small, _ = run_page(browser, page, prime=prime, length=150, top_p=1e-6, seed=6)
    assert greedy == top_k_1 == top_p_small != a
    assert greedy + "\n" == sample_stdout(models["lstm-2-trained"], prime, 150)


def test_page_streams_and_stop_stops(browser, pages):
    tab = browser.open(page_url(pages["lstm-2-trained"], prime="The", length=10**7, seed=1,
                                autorun=1))
    try:
        text_length = "document.getElementById('output').textContent.length"
        first = tab.wait_for(f"{text_length} > 100 && {text_length}")
        later = tab.wait_for(f"{text_length} > {first} && {text_length}")
        assert tab.evaluate("document.getElementById('output').dataset.done") is None
        tab.evaluate("document.getElementById('stop').click()")   # the page still takes clicks
        tab.wait_for("document.getElementById('output').dataset.done === '1'")
        assert tab.evaluate("document.getElementById('output').dataset.stopped") == "1"
        stopped_at = tab.evaluate(text_length)
        assert later <= stopped_at < 10**7
        assert "stopped after" in tab.evaluate("document.getElementById('status').textContent")
        assert tab.evaluate("document.getElementById('generate').disabled") is False
    finally:
        tab.close()


def test_page_refuses_what_charlstm_sample_refuses(browser, models, pages, capsys):
    code, _, err = cli(capsys, "sample", models["lstm-2-trained"], "--prime", "é!", "--length", "5")
    assert code == 2
    text, data = run_page(browser, pages["lstm-2-trained"], prime="é!", length=5)
    assert text == "" and "error: " + data["error"] + "\n" == err   # the same message
    _, data = run_page(browser, pages["lstm-2-trained"], prime="The", temperature=0)
    assert data["error"].startswith("temperature must be greater than 0")


def test_page_screenshot_and_no_network(browser, models, tmp_path):
    """The page as a user sees it, saved as a PNG: the one in docs/ came from this test, run as
    CHARLSTM_SCREENSHOT=docs/export-page.png CHARLSTM_SCREENSHOT_CKPT=runs/shakespeare/best.npz
    python -m pytest tests/test_export.py -k screenshot"""
    checkpoint = os.environ.get("CHARLSTM_SCREENSHOT_CKPT") or models["lstm-2-trained"]
    page = export_html(ckpt.load(checkpoint), tmp_path / "page.html")
    tab = browser.open(page_url(page, prime="ROMEO:", length=700, temperature=0.8, seed=3,
                                autorun=1), width=960, height=720)
    try:
        tab.wait_for("document.getElementById('output').dataset.done === '1'")
        about = tab.evaluate("document.getElementById('about').textContent")
        assert re.search(r"\d-layer (LSTM|GRU|RNN) · hidden \d+", about), about
        urls = tab.requested_urls()                    # the page itself, nothing else
        assert urls and all(u.split("#")[0] == page.as_uri() for u in urls), urls
        png = tab.screenshot()
    finally:
        tab.close()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (960, 720)
    out = Path(os.environ.get("CHARLSTM_SCREENSHOT") or tmp_path / "page.png")
    out.write_bytes(png)


# --------------------------------------------------------------------------- records, in Chromium

@pytest.fixture(scope="module")
def records_pages(records_models, tmp_path_factory):
    d = tmp_path_factory.mktemp("records-pages")
    return {name: export_html(ckpt.load(path), d / f"{name}.html")
            for name, path in records_models.items()}


# (model, prime, records, max length): max length 1 cuts every record before its end.
RECORD_CASES = [("names", "", 4, 40), ("names", "Ka", 3, 40), ("names", "", 3, 1),
                ("poems", "", 3, 60), ("poems", "Ri\n", 2, 60), ("random", "Bo", 2, 50)]


@pytest.mark.parametrize("name, prime, num, max_length", RECORD_CASES)
def test_page_greedy_records_equal_charlstm_sample(browser, records_models, records_pages,
                                                  name, prime, num, max_length):
    assert record_greedy_margin(records_models[name], prime, max_length) > 1e-4, \
        "a near tie: choose another seed"
    text, data = run_page(browser, records_pages[name], prime=prime, num_samples=num,
                          max_length=max_length, greedy=1)
    assert "error" not in data and "stopped" not in data
    assert text + "\n" == records_stdout(records_models[name], "--greedy", "--prime", prime,
                                         "--num-samples", num, "--max-length", max_length)
    separator = "\n\n" if RECORDS[name][0] == "paragraphs" else "\n"
    records = text.split(separator)
    assert len(records) == num and all(r.startswith(prime) for r in records)
    if max_length == 1:                                # every record cut at its max length
        assert all(len(r) == len(prime) + 1 for r in records)


def test_page_records_are_seeded_records(browser, records_pages, capsys, records_models):
    page, chars = records_pages["names"], set(RECORDS["names"][1])
    settings = dict(num_samples=12, max_length=8, temperature=1.5)
    a, data = run_page(browser, page, seed=3, **settings)
    b, _ = run_page(browser, page, seed=3, **settings)
    c, _ = run_page(browser, page, seed=4, **settings)
    assert "error" not in data and a == b != c
    lines = a.split("\n")                              # every line a record, none too long
    assert len(lines) == 12 and all(len(r) <= 8 for r in lines) and set(a) <= chars
    assert any(len(r) < 8 for r in lines)              # some ended at the end symbol
    primed, _ = run_page(browser, page, prime="Ra", seed=3, **settings)
    assert all(r.startswith("Ra") and len(r) <= 10 for r in primed.split("\n"))

    tab = browser.open(page_url(page, autorun=1, seed=3, **settings))
    try:
        tab.wait_for("document.getElementById('output').dataset.done === '1'")
        shown = {k: tab.evaluate(f"!document.getElementById('{k}-label').hidden")
                 for k in ("length", "num_samples", "max_length")}
        assert shown == {"length": False, "num_samples": True, "max_length": True}
        assert "records model (one per line)" in tab.evaluate("document.getElementById('about').textContent")
        assert tab.evaluate("document.getElementById('status').textContent").startswith("12 records, ")
        assert "num_samples=12&max_length=8" in tab.evaluate("location.hash")
        assert tab.evaluate("document.getElementById('output').textContent") == a
    finally:
        tab.close()

    # What charlstm sample refuses, with its message.
    code, _, err = cli(capsys, "sample", records_models["names"], "--prime", "Ka\nLi")
    assert code == 2
    text, data = run_page(browser, page, prime="Ka\nLi")
    assert text == "" and "error: " + data["error"] + "\n" == err
    _, data = run_page(browser, page, num_samples=0)
    assert data["error"].startswith("records must be a whole number, 1 or more")


def test_page_describes_a_paragraphs_model(browser, records_pages):
    tab = browser.open(page_url(records_pages["poems"], autorun=1, num_samples=2, greedy=1))
    try:
        tab.wait_for("document.getElementById('output').dataset.done === '1'")
        about = tab.evaluate("document.getElementById('about').textContent")
        assert "records model (one per paragraph)" in about and "nats/symbol" in about
    finally:
        tab.close()


# --------------------------------------------------------------------------- the page file

def test_the_page_holds_the_model_and_nothing_to_fetch(models, tmp_path, capsys):
    path = models["gru-2-random"]
    code, out, err = cli(capsys, "export", path, "--html", tmp_path / "p.html")
    assert code == 0, err
    assert out.startswith(f"wrote {tmp_path / 'p.html'} (") and "MB)" in out
    page = (tmp_path / "p.html").read_text(encoding="utf-8")
    spec = json.loads(re.search(r'<script type="application/json" id="model">(.*?)</script>',
                                page, re.S).group(1))
    ck = ckpt.load(path)
    assert spec == json.loads(json.dumps(describe(ck)))
    assert spec["vocab"] == list(ck.vocab.chars) and "😀" in spec["vocab"]
    weights = base64.b64decode(re.search(r'<script type="text/plain" id="weights">(.*?)</script>',
                                         page, re.S).group(1))
    flat = np.frombuffer(weights, "<f4")
    expected = np.concatenate([p.ravel() for p in float32_params(ck).values()])
    assert np.array_equal(flat, expected)               # every weight, bit for bit, in order
    assert "://" not in page and "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.findall(r"<script[^>]*\bsrc=", page)   # every script inline


def test_export_end_to_end_and_bad_input(models, tmp_path, capsys):
    r = run_cli("export", models["rnn-1-random"], "--html", tmp_path / "r.html")
    assert r.returncode == 0 and (tmp_path / "r.html").stat().st_size > 1000, r.stderr
    ck = models["rnn-1-random"]
    bad = [
        ((ck,), "say what to write: --html PAGE.html and/or --onnx MODEL.onnx"),
        ((tmp_path / "none.npz", "--html", tmp_path / "x.html"), "not found"),
        ((ck, "--html", tmp_path / "x.txt"), "must end in .html or .htm"),
        ((ck, "--html", tmp_path / "no" / "x.html"), "does not exist; create it first"),
        ((ck, "--onnx", tmp_path / "x.html"), "must end in .onnx"),
    ]
    (tmp_path / "d.html").mkdir()
    bad.append(((ck, "--html", tmp_path / "d.html"), "is a folder"))
    for args, message in bad:
        code, out, err = cli(capsys, "export", *args)
        assert code == 2 and message in err and err.startswith("error: "), (args, err)
    assert not list(tmp_path.glob(".*.tmp"))           # no temporary file left behind


def test_describe_gives_the_mode_the_records_and_the_end_symbol(models, records_models,
                                                               tmp_path, capsys):
    text = describe(ckpt.load(models["lstm-2-trained"]))
    assert (text["mode"], text["records"], text["end_id"]) == ("text", None, None)
    ck = ckpt.load(records_models["poems"])
    spec = describe(ck)
    assert (spec["mode"], spec["records"]) == ("records", "paragraphs")
    assert spec["end_id"] == ck.vocab.end_id == len(spec["vocab"]) == spec["vocab_size"] - 1
    # A checkpoint that says records but has no end symbol cannot be sampled: refused.
    ck = ckpt.load(models["lstm-2-trained"])
    meta = {**ck.meta, "train": {**ck.meta["train"], "records": "lines"}}
    ckpt.save(tmp_path / "broken.npz", meta, ck.params)
    code, _, err = cli(capsys, "export", tmp_path / "broken.npz", "--html", tmp_path / "b.html")
    assert code == 2 and "no end-of-record symbol" in err and err.count("\n") == 1, err
    assert not (tmp_path / "b.html").exists()


def test_onnx_missing_is_a_clear_error(models, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)     # import onnx now fails
    code, _, err = cli(capsys, "export", models["lstm-1-random"], "--onnx", tmp_path / "m.onnx")
    assert code == 2 and "pip install 'charlstm[onnx]'" in err
    assert not (tmp_path / "m.onnx").exists()


# --------------------------------------------------------------------------- ONNX, in onnxruntime

def assert_close(a, b):
    """Equal to 1e-5 in float32: absolutely for values up to 1, relative to the largest above
    (a logit of 20 has float32 steps of 2e-6; the cell state c is not bounded)."""
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    worst, scale = float(np.abs(a - b).max()), max(1.0, float(np.abs(b).max()))
    assert worst <= 1e-5 * scale, f"differ by {worst:.2e} (largest value {scale:.3g})"


@pytest.mark.parametrize("name", MODELS)
def test_onnx_logits_and_states_equal_charlstm(models, tmp_path, name, capsys):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    code, out, err = cli(capsys, "export", models[name], "--onnx", tmp_path / "m.onnx")
    assert code == 0 and "m.step.onnx" in out, err
    ck = ckpt.load(models[name])
    model, vocab = ck.model(), ck.vocab
    cfg = model.cfg
    ids = np.stack([vocab.encode(CORPUS[:100]), vocab.encode(CORPUS[1000:1100])]).astype(np.int64)
    rng = np.random.default_rng(0)                     # a state that is not zero
    h0, c0 = (rng.standard_normal((cfg.num_layers, 2, cfg.hidden_size)).astype(np.float32) * 0.5
              for _ in range(2))
    sequence = ort.InferenceSession(str(tmp_path / "m.onnx"))
    step = ort.InferenceSession(str(tmp_path / "m.step.onnx"))
    assert json.loads(step.get_modelmeta().custom_metadata_map["charlstm"])["vocab"] == list(vocab.chars)

    logits, (h, c) = model.forward(ids, (h0, c0))
    got = sequence.run(None, {"ids": ids, "h0": h0, "c0": c0})
    assert got[0].shape == logits.shape == (2, 100, cfg.vocab_size)
    for a, b in zip(got, (logits, h, c)):
        assert_close(a, b)

    state = (h0, c0)
    for t in range(ids.shape[1]):
        logits, new_state = model.step(ids[:, t], state)
        got = step.run(None, {"ids": ids[:, t], "h0": state[0], "c0": state[1]})
        for a, b in zip(got, (logits, *new_state)):
            assert_close(a, b)
        state = new_state


def test_docs_onnx_sampler_runs(models, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    doc = (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- tested: onnx sampler -->\s*```python\n(.*?)```", doc, re.S).group(1)
    assert len(code.strip().splitlines()) <= 16
    export_onnx(ckpt.load(models["lstm-2-trained"]), tmp_path / "shakespeare.onnx")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    text = r.stdout[:-1]
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 200
    assert set(text) <= set(CORPUS)


@pytest.mark.parametrize("name", ["poems", "random"])
def test_onnx_step_reads_a_record_as_charlstm(records_models, tmp_path, name, capsys):
    """A records model's step graph: the end symbol is one more id and one more logit; from a
    zero state, read the end symbol then a record, its logits are charlstm's at every step."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    code, _, err = cli(capsys, "export", records_models[name], "--onnx", tmp_path / "m.onnx")
    assert code == 0, err
    ck = ckpt.load(records_models[name])
    model, vocab = ck.model(), ck.vocab
    step = ort.InferenceSession(str(tmp_path / "m.step.onnx"))
    meta = json.loads(step.get_modelmeta().custom_metadata_map["charlstm"])
    assert (meta["mode"], meta["records"]) == ("records", RECORDS[name][0])
    assert meta["end_id"] == len(meta["vocab"]) == len(vocab.chars) == meta["vocab_size"] - 1
    record = POEMS[1] if meta["records"] == "paragraphs" else max(NAMES, key=len)  # 4 lines; 6 chars
    ids = np.concatenate([[vocab.end_id], vocab.encode(record)]).astype(np.int64)
    state = model.init_state(1)
    h, c = (np.zeros((model.cfg.num_layers, 1, model.cfg.hidden_size), np.float32),) * 2
    for x in ids:
        logits, state = model.step(np.array([x]), state)
        got, h, c = step.run(None, {"ids": np.array([x]), "h0": h, "c0": c})
        assert got.shape == (1, vocab.end_id + 1)
        assert_close(got, logits)
        assert_close(h, state[0])


def test_docs_onnx_records_sampler_runs(records_models, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    doc = (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- tested: onnx records sampler -->\s*```python\n(.*?)```", doc,
                     re.S).group(1)
    assert len(code.strip().splitlines()) <= 20
    export_onnx(ckpt.load(records_models["names"]), tmp_path / "names.onnx")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    records = r.stdout[:-1].split("\n")
    assert len(records) == 10 and all(len(x) <= 500 for x in records)
    assert set("".join(records)) <= set(NAMES[0].join(NAMES))
    assert len(set(records)) > 1                       # sampled, not the same record ten times
