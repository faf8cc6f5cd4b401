"""Records (--records lines|paragraphs), fine-tuning (--init-from), resume on a changed
corpus, and the sampling conveniences (--stop, --prime-file, --exclude)."""

import math

import numpy as np
import pytest

from charlstm import checkpoint as ckpt
from charlstm.cli import app
from charlstm.data import RecordBatches, Vocab, split_records
from charlstm.evaluate import score_records
from charlstm.layers import temporal_softmax_loss
from charlstm.model import CharLSTM, ModelConfig, init_params
from charlstm.sample import sample_record
from charlstm.train import TrainConfig, evaluate, inherit_params, train

from conftest import make_text, run_cli

NAMES = ["anna", "bob", "cleo", "dora", "emil", "fay", "gus", "hana", "ivo", "jo"]


def quiet(**kw):
    base = dict(hidden_size=32, embed_size=16, num_layers=1, batch_size=8, seq_len=16,
                dropout=0.0, eval_every=50, sample_chars=30, quiet=True, warmup_steps=0)
    return TrainConfig(**(base | kw))


@pytest.fixture(scope="module")
def names_run(tmp_path_factory):
    """A records model overfit on ten names: (run folder, corpus path)."""
    d = tmp_path_factory.mktemp("names")
    corpus = d / "names.txt"
    corpus.write_text("\n".join(NAMES * 20) + "\n")
    train(corpus, quiet(records="lines", max_steps=400, eval_every=200, lr=1e-2, val_frac=0.1),
          run_dir=d / "run", log=lambda s: None)
    return d / "run", corpus


def batches_of(records, N, T, seed=None):
    vocab, ids = Vocab.build("".join(records), end=True)
    lengths = np.array([len(r) for r in records])
    return vocab, RecordBatches(ids, np.cumsum(lengths) - lengths, lengths, vocab.end_id,
                                N, T, seed)


# ------------------------------------------------------------------ records as data

def test_split_records_lines_and_paragraphs():
    text = "  anna \r\nbob\n\n\t\ncleo"
    assert split_records(text, "lines") == ["anna", "bob", "cleo"]
    poem = "one\n  two  \n \nthree\n\n\n\nfour\n"
    assert split_records(poem, "paragraphs") == ["one\n  two", "three", "four"]


def test_record_batches_frame_each_record_with_the_end_symbol():
    recs = ["ab", "abcde", "b"]
    vocab, b = batches_of(recs, N=2, T=3)
    E = vocab.end_id
    assert len(vocab) == len(vocab.chars) + 1 == 6 and E == 5
    seen = {}
    for k in range(len(b)):
        x, y = b.get(k)
        rows, piece = b.plan()[k]
        assert b.resets(k) == (piece == 0)
        for r, xs, ys in zip(rows, x, y):
            seen.setdefault(r, [[], []])
            seen[r][0] += [v for v, t in zip(xs, ys) if t >= 0]
            seen[r][1] += [t for t in ys if t >= 0]
    for r, rec in enumerate(recs):
        ids = list(vocab.encode(rec))
        assert seen[r] == [[E] + ids, ids + [E]], rec       # x = [END] r, y = r [END]
    x, y = b.get([k for k in range(len(b)) if len(b.plan()[k][0]) == 2][0])
    assert (y == -1).sum() == 1                              # "b" padded next to "ab"
    assert b.chars_per_epoch == sum(len(r) + 1 for r in recs)
    assert b.chars_seen(len(b)) == b.chars_per_epoch


def test_each_epoch_deals_new_groups_reproducibly():
    recs = [make_text(n, seed=n).strip() for n in range(3, 40)]
    _, b = batches_of(recs, N=4, T=8, seed=3)
    _, b2 = batches_of(recs, N=4, T=8, seed=3)
    p0, p1 = b.plan(0), b.plan(1)
    assert len(p0) == len(p1) == len(b)
    assert [r.tolist() for r, _ in p0] != [r.tolist() for r, _ in p1]
    assert [r.tolist() for r, _ in b2.plan(1)] == [r.tolist() for r, _ in p1]
    # every record's every piece, once per epoch
    assert sorted((int(r), j) for rows, j in p1 for r in rows) == sorted(
        (r, j) for r in range(len(recs)) for j in range(math.ceil((len(recs[r]) + 1) / 8)))


def test_padding_is_not_scored_and_its_gradient_is_zero():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5))
    y = rng.integers(0, 5, (3, 4))
    y[0, 2:] = -1
    y[2, 3] = -1
    loss, dx = temporal_softmax_loss(x, y)
    ref, dref = temporal_softmax_loss(x, np.maximum(y, 0), mask=y >= 0)
    assert loss == pytest.approx(ref) and np.allclose(dx, dref)
    assert np.all(dx[0, 2:] == 0) and np.all(dx[2, 3] == 0)
    # finite differences of the masked mean
    f = lambda z: temporal_softmax_loss(z, y)[0]
    i = (1, 3, 2)
    e = np.zeros_like(x)
    e[i] = 1e-6
    assert dx[i] == pytest.approx((f(x + e) - f(x - e)) / 2e-6, rel=1e-5)


def test_a_records_loss_does_not_depend_on_the_record_before_it():
    model = CharLSTM(ModelConfig(vocab_size=6, hidden_size=8, embed_size=4), seed=1,
                     dtype=np.float64)
    vocab = Vocab("abcde", end=True)
    alone = {r: score_records(model, vocab, r, "lines")["loss"] * (len(r) + 1)
             for r in ["ab", "eeee", "bcd", "a"]}
    for text, recs in [("ab\neeee", ["ab", "eeee"]), ("bcd\neeee\na\nab", ["bcd", "eeee", "a", "ab"])]:
        for N, T in [(1, 64), (4, 64), (4, 2)]:               # T=2: records cut in pieces
            r = score_records(model, vocab, text, "lines", batch_size=N, seq_len=T)
            assert r["chars"] == sum(len(x) + 1 for x in recs)
            assert r["loss"] * r["chars"] == pytest.approx(sum(alone[x] for x in recs), rel=1e-10)


def test_padded_batches_split_over_threads_give_the_same_loss_and_gradients():
    recs = ["abcdeabcde", "ab", "abc", "a", "bcdbcd", "e", "cc", "dddd"] * 3
    vocab, b = batches_of(recs, N=24, T=16)
    x, y = b.get(0)
    assert (y < 0).any()
    one, two = (CharLSTM(ModelConfig(len(vocab), 16, 1, embed_size=8), seed=0,
                         dtype=np.float64, threads=t) for t in (1, 2))
    s = one.init_state(x.shape[0])
    l1, g1, _ = one.loss_and_grads(x, y, s)
    two._split = None
    from charlstm import model as M
    if not M.blas_threads_settable():
        pytest.skip("threadpoolctl cannot set this BLAS's threads")
    l2, g2, _ = two.loss_and_grads(x, y, s)
    assert l1 == pytest.approx(l2, rel=1e-12)
    for k in g1:
        assert np.allclose(g1[k], g2[k], rtol=1e-9, atol=1e-12), k


# ------------------------------------------------------------------ a records run

def test_records_run_writes_the_mode_the_end_symbol_and_names(names_run, runner):
    run, corpus = names_run
    ck = ckpt.load(run / "best.npz")
    assert ck.meta["train"]["records"] == "lines" and ck.meta["vocab_end"] is True
    assert ck.vocab.chars == "".join(sorted(set("".join(NAMES))))      # no newline, no end
    assert ck.model_config.vocab_size == len(ck.vocab.chars) + 1
    assert ck.meta["best_val_loss"] < 1.0                               # ln 22 = 3.1 at start
    info = runner.invoke(app, ["info", str(run / "best.npz")]).stdout
    assert "+ the end-of-record symbol" in info and "records: lines" in info
    samples = (run / "samples.txt").read_text().split("--- step")[-1].splitlines()[1:]
    assert set(s for s in samples if s) <= set(NAMES)


def test_sampling_a_records_model_prints_records_that_stop(names_run, runner):
    run, corpus = names_run
    r = runner.invoke(app, ["sample", str(run / "best.npz"), "--seed", "1"])
    lines = r.stdout.splitlines()
    assert r.exit_code == 0 and len(lines) == 10 and set(lines) <= set(NAMES)
    r = runner.invoke(app, ["sample", str(run / "best.npz"), "--seed", "1", "--prime", "h",
                            "--num-samples", "3", "--temperature", "0.5"])
    assert r.stdout.splitlines() == ["hana"] * 3
    r = runner.invoke(app, ["sample", str(run / "best.npz"), "--prime", "han",
                            "--max-length", "0", "--num-samples", "2"])
    assert r.stdout.splitlines() == ["han", "han"]
    model, vocab = ckpt.load(run / "best.npz").model(), ckpt.load(run / "best.npz").vocab
    rng = np.random.default_rng(0)
    assert sample_record(model, vocab, 50, "e", rng=rng, greedy=True) == "emil"


def test_cli_trains_on_records_and_samples_one_per_line(tmp_path):
    corpus = tmp_path / "names.txt"
    corpus.write_text("\n".join(NAMES * 5))
    r = run_cli("train", corpus, "--records", "lines", "--max-steps", "3", "--run-dir",
                tmp_path / "run", "--hidden-size", "16", "--embed-size", "8", "--layers", "1",
                "--batch-size", "4", "--quiet", "--sample-chars", "0")
    assert r.returncode == 0, r.stderr
    assert "50 records (one per line), vocab 19 characters + end-of-record" in r.stderr
    assert "nats/symbol" in r.stderr and "nats/char" not in r.stderr   # the end symbol counts
    s = run_cli("sample", tmp_path / "run" / "latest.npz", "--seed", "0", "--max-length", "12")
    lines = s.stdout.split("\n")
    assert s.returncode == 0 and len(lines) == 11 and lines[-1] == ""   # 10 records, one per line
    assert all(0 <= len(x) <= 12 and set(x) <= set("".join(NAMES)) for x in lines[:-1])


def test_exclude_skips_known_records_and_counts_them(names_run, runner, tmp_path):
    run, _ = names_run
    known = tmp_path / "known.txt"
    known.write_text("\n".join(NAMES[:8]) + "\n")
    r = runner.invoke(app, ["sample", str(run / "best.npz"), "--seed", "2", "--num-samples",
                            "6", "--exclude", str(known)])
    printed = r.stdout.splitlines()
    assert r.exit_code == 0 and len(printed) == 6 and not set(printed) & set(NAMES[:8])
    note = r.stderr.strip()
    skipped = int(note.split()[1])
    assert skipped > 0 and f"of {skipped + 6} samples already in" in note


def test_eval_scores_records_from_a_zero_state(names_run, runner):
    run, corpus = names_run
    ck = ckpt.load(run / "best.npz")
    r = runner.invoke(app, ["eval", str(run / "best.npz"), str(corpus)])
    assert r.exit_code == 0 and "200 records, 880 predictions" in r.stdout
    ref = score_records(ck.model(), ck.vocab, corpus.read_text(), "lines")
    assert f"loss: {ref['loss']:.4f} nats/symbol" in r.stdout


def test_paragraph_records_resume_bit_for_bit(tmp_path):
    corpus = tmp_path / "poems.txt"
    corpus.write_text("\n\n".join(make_text(20 + 3 * i, seed=i).strip() for i in range(30)))
    cfg = dict(records="paragraphs", dtype="float64", dropout=0.2, eval_every=4,
               checkpoint_every=5, seq_len=32, batch_size=4, lr_schedule="step")
    a, b = tmp_path / "a", tmp_path / "b"
    train(corpus, quiet(max_steps=30, **cfg), run_dir=a, log=lambda s: None)
    train(corpus, quiet(max_steps=9, **cfg), run_dir=b, log=lambda s: None)
    train(None, TrainConfig(max_steps=30, quiet=True), resume=b, explicit={"max_steps", "quiet"},
          log=lambda s: None)
    ca, cb = ckpt.load(a / "latest.npz"), ckpt.load(b / "latest.npz")
    assert ca.meta["epoch"] >= 1                       # crossed an epoch: the groups changed
    for k in ca.params:
        assert np.array_equal(ca.params[k], cb.params[k]), k


# ------------------------------------------------------------------ fine-tuning

def test_inherit_params_keeps_old_rows_and_adds_fresh_ones_by_value(tmp_path):
    parent_corpus = tmp_path / "p.txt"
    parent_corpus.write_text("abcdef " * 300)
    train(parent_corpus, quiet(max_steps=3), run_dir=tmp_path / "p", log=lambda s: None)
    parent = ckpt.load(tmp_path / "p" / "latest.npz")
    new = Vocab("defxyz\n")                            # shares d e f, brings x y z and \n
    vocab = parent.vocab.merge(new, end=True)
    assert vocab.chars == "\n abcdefxyz" and vocab.end
    cfg = parent.model_config.__class__(**{**parent.model_config.to_dict(), "vocab_size": len(vocab)})
    p = inherit_params(parent, vocab, cfg, seed=7, dtype=np.float32)
    fresh = init_params(cfg, np.random.default_rng(7), np.float32)
    old = parent.params
    for ch in " abcdef":                                # the parent's: its rows, by value
        i, j = vocab.stoi[ch], parent.vocab.stoi[ch]
        assert np.array_equal(p["embed"][i], old["embed"][j]), ch
        assert np.array_equal(p["out.W"][:, i], old["out.W"][:, j])
        assert p["out.b"][i] == old["out.b"][j]
    for i in [vocab.stoi[c] for c in "\nxyz"] + [vocab.end_id]:   # new: a fresh model's
        assert np.array_equal(p["embed"][i], fresh["embed"][i])
        assert np.array_equal(p["out.W"][:, i], fresh["out.W"][:, i])
        assert p["out.b"][i] == 0
    for k in old:
        if k not in ("embed", "out.W", "out.b"):
            assert np.array_equal(p[k], old[k]), k


def test_init_from_trains_on_new_text_and_records_its_parent(tmp_path, runner):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(make_text(3000, seed=1))
    b.write_text(make_text(3000, seed=2).upper() + "0123")   # new characters
    train(a, quiet(max_steps=30, lr=1e-2), run_dir=tmp_path / "p", log=lambda s: None)
    parent_file = tmp_path / "p" / "best.npz"
    res = run_cli("train", b, "--init-from", parent_file, "--run-dir", tmp_path / "ft",
                  "--max-steps", "6", "--lr", "1e-9", "--weight-decay", "0", "--warmup-steps",
                  "0", "--quiet", "--sample-chars", "0", "--batch-size", "4", "--seq-len", "8")
    assert res.returncode == 0, res.stderr
    assert "fine-tuning from" in res.stderr
    ft, parent = ckpt.load(tmp_path / "ft" / "latest.npz"), ckpt.load(parent_file)
    assert set(ft.vocab.chars) == set(parent.vocab.chars) | set(b.read_text())
    assert ft.meta["step"] == 6 and ft.meta["train"]["hidden_size"] == 32
    assert ft.meta["train"]["batch_size"] == 4         # the new run's own settings
    assert ft.meta["parent"]["sha256"] == ckpt.file_sha256(parent_file)
    i, j = ft.vocab.stoi["t"], parent.vocab.stoi["t"]
    assert np.allclose(ft.params["embed"][i], parent.params["embed"][j], atol=1e-6)
    assert np.allclose(ft.params["layer0.Wh"], parent.params["layer0.Wh"], atol=1e-6)
    assert "fine-tuned from: " + str(parent_file) in runner.invoke(
        app, ["info", str(tmp_path / "ft" / "latest.npz")]).stdout
    # resuming the fine-tune keeps its parent
    ok = run_cli("train", "--resume", tmp_path / "ft", "--max-steps", "8", "--quiet")
    assert ok.returncode == 0, ok.stderr
    assert ckpt.load(tmp_path / "ft" / "latest.npz").meta["parent"] == ft.meta["parent"]


def test_a_records_model_fine_tunes_on_a_stream_and_back(names_run, tmp_path):
    run, corpus = names_run
    text = tmp_path / "t.txt"
    text.write_text(make_text(2000))
    train(text, quiet(max_steps=2), run_dir=tmp_path / "s", init_from=run / "best.npz",
          log=lambda s: None)
    s = ckpt.load(tmp_path / "s" / "latest.npz")
    assert not s.vocab.end and "\n" in s.vocab.chars   # the end symbol is not a character
    train(corpus, quiet(max_steps=2, records="lines"), run_dir=tmp_path / "r",
          init_from=tmp_path / "s" / "latest.npz", log=lambda s: None)
    r = ckpt.load(tmp_path / "r" / "latest.npz")
    assert r.vocab.end and r.vocab.chars == s.vocab.chars


# ------------------------------------------------------------------ resume stays exact

def test_resume_refuses_a_changed_corpus_and_names_init_from(tmp_path):
    corpus = tmp_path / "c.txt"
    text = make_text(3000)
    corpus.write_text(text)
    train(corpus, quiet(max_steps=3), run_dir=tmp_path / "run", log=lambda s: None)
    corpus.write_text(text[::-1])                      # same characters, other text
    r = run_cli("train", "--resume", tmp_path / "run", "--max-steps", "5")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "not the one this run was trained on" in r.stderr and "--init-from" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert ckpt.load(tmp_path / "run" / "latest.npz").meta["step"] == 3
    moved = tmp_path / "moved.txt"                     # the same bytes elsewhere: fine
    moved.write_text(text)
    ok = run_cli("train", moved, "--resume", tmp_path / "run", "--max-steps", "5", "--quiet")
    assert ok.returncode == 0, ok.stderr


def test_resume_of_a_checkpoint_without_the_hash_checks_the_length(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_text(3000))
    train(corpus, quiet(max_steps=3), run_dir=tmp_path / "run", log=lambda s: None)
    ck = ckpt.load(tmp_path / "run" / "latest.npz")
    meta = {k: v for k, v in ck.meta.items() if k not in ("corpus_bytes", "corpus_sha256")}
    ckpt.save(tmp_path / "run" / "latest.npz", meta, ck.params, ck.optim, ck.state)
    corpus.write_text(make_text(2000))
    r = run_cli("train", "--resume", tmp_path / "run", "--max-steps", "5")
    assert r.returncode == 2 and "3,000 characters" in r.stderr


# ------------------------------------------------------------------ sampling conveniences

@pytest.mark.parametrize("args,match", [
    (["--prime", "x", "--prime-file", "{d}/p.txt"], "--prime or --prime-file, not both"),
    (["--prime-file", "{d}/missing.txt"], "--prime-file file"),
    (["--prime-file", "{d}/empty.txt"], "is empty"),
    (["--stop", ""], "--stop needs some text"),
    (["--exclude", "{d}/missing.txt"], "--exclude file"),
    (["--prime", "an\nna"], "has a newline"),
    (["--prime", "Z"], "outside the model's vocabulary"),
])
def test_bad_sampling_input_is_one_line(names_run, tmp_path, args, match):
    (tmp_path / "p.txt").write_text("a")
    (tmp_path / "empty.txt").write_text("")
    run, _ = names_run
    r = run_cli("sample", run / "best.npz", *[a.format(d=tmp_path) for a in args])
    assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_records_flags_on_a_stream_model_are_refused(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_text(2000))
    train(corpus, quiet(max_steps=1, sample_chars=0), run_dir=tmp_path / "r", log=lambda s: None)
    for flags in (["--max-length", "5"], ["--exclude", str(corpus)]):
        r = run_cli("sample", tmp_path / "r" / "latest.npz", *flags)
        assert r.returncode == 2 and "is for a records model" in r.stderr


@pytest.mark.parametrize("make,args,match", [
    (lambda d: "\n".join(NAMES), ["--records", "words"], "--records must be one of"),
    (lambda d: "anna\n\n  \n", ["--records", "lines"], "too few to hold out"),
    (lambda d: "\n \n\n", ["--records", "lines"], "has no records"),
    (lambda d: "\n".join(NAMES * 3), ["--records", "lines", "--init-from", "{d}/nope.npz"],
     "not found"),
    (lambda d: "\n".join(NAMES * 3), ["--init-from", "{d}/p/latest.npz",
                                      "--hidden-size", "64"], "--hidden-size 64 (checkpoint has 32)"),
    (lambda d: "\n".join(NAMES * 3), ["--init-from", "{d}/p/latest.npz",
                                      "--resume", "{d}/p"], "cannot be combined with --resume"),
])
def test_bad_records_and_init_from_input_is_one_line(tmp_path, make, args, match):
    corpus = tmp_path / "c.txt"
    corpus.write_text(make(tmp_path))
    if "--init-from" in args:
        p = tmp_path / "p.txt"
        p.write_text(make_text(2000))
        train(p, quiet(max_steps=1, sample_chars=0), run_dir=tmp_path / "p", log=lambda s: None)
    args = [a.format(d=tmp_path) for a in args]
    r = run_cli("train", corpus, *args, "--max-steps", "2", "--run-dir", tmp_path / "out",
                "--hidden-size" if "--hidden-size" not in args else "--seed", "32", "--quiet")
    assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
