"""Streaming corpus encoding, the id cache, and folding rare characters (data.encode_corpus)."""

import json

import numpy as np
import pytest

from charlstm import data as D
from charlstm.errors import CharlstmError

from conftest import make_text

MIXED = make_text(3000) + "café naïve — 日本語 ☃ 🎉\n" * 20 + "rare: ß ẞ\n"


def in_memory(path, **kw):
    return D.Vocab.build(D.load_corpus(path).text, **kw)


@pytest.fixture
def mixed(tmp_path):
    p = tmp_path / "mixed.txt"
    p.write_text(MIXED, encoding="utf-8")
    return p


@pytest.mark.parametrize("cache", [False, True])
def test_streamed_ids_equal_the_in_memory_encoding(mixed, cache, monkeypatch):
    monkeypatch.setattr(D, "_READ", 7)            # multi-byte characters straddle every chunk edge
    enc = D.encode_corpus(mixed, cache=cache)
    vocab, ids = in_memory(mixed)
    assert enc.vocab == vocab and np.array_equal(enc.ids, ids) and enc.ids.dtype == vocab.dtype
    assert isinstance(enc.ids, np.memmap) == cache


def test_a_folder_streams_its_files_in_order(tmp_path):
    (tmp_path / "b.txt").write_text("second ☃\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first é\n", encoding="utf-8")
    enc = D.encode_corpus(tmp_path, cache=True)
    assert enc.vocab.decode(enc.ids) == "first é\nsecond ☃\n"


def test_the_second_run_reads_the_cache_and_a_change_invalidates_it(mixed):
    first = D.encode_corpus(mixed, cache=True)
    assert not first.from_cache and first.cache_file.parent == D.cache_dir()
    again = D.encode_corpus(mixed, cache=True)
    assert again.from_cache and np.array_equal(again.ids, first.ids)
    assert not D.encode_corpus(mixed, cache=True, min_count=3).from_cache   # other settings
    mixed.write_text(MIXED + "more text\n", encoding="utf-8")               # file changed
    changed = D.encode_corpus(mixed, cache=True)
    assert not changed.from_cache and len(changed.ids) == len(first.ids) + 10


def test_a_damaged_cache_is_rebuilt(mixed):
    enc = D.encode_corpus(mixed, cache=True)
    with open(enc.cache_file, "r+b") as fh:
        fh.truncate(10)
    again = D.encode_corpus(mixed, cache=True)
    assert not again.from_cache and np.array_equal(again.ids, in_memory(mixed)[1])


def test_small_corpora_are_not_cached_by_default(mixed):
    assert D.encode_corpus(mixed).cache_file is None
    assert not list(D.cache_dir().glob("*.ids"))


def test_clear_cache_removes_every_encoded_corpus(mixed):
    enc = D.encode_corpus(mixed, cache=True)
    files, freed = D.clear_cache()
    assert files == 2 and freed >= enc.ids.nbytes and not enc.cache_file.exists()


def test_an_unwritable_cache_falls_back_to_memory(mixed, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("CHARLSTM_CACHE", str(blocker / "cache"))
    enc = D.encode_corpus(mixed, cache=True)
    assert np.array_equal(enc.ids, in_memory(mixed)[1])
    assert "cannot write the corpus cache" in capsys.readouterr().err


@pytest.mark.parametrize("content,words", [
    (b"ok\x00\x01binary", "binary file"),
    ("abc é".encode("latin-1"), "byte offset 4 cannot be decoded"),
])
def test_bad_files_are_refused_in_one_line(tmp_path, content, words, monkeypatch):
    monkeypatch.setattr(D, "_READ", 3)
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(CharlstmError, match=words):
        D.encode_corpus(p)


def test_rare_characters_fold_into_one_unknown_symbol(mixed):
    enc = D.encode_corpus(mixed, min_count=2)
    v = enc.vocab
    assert v.unknown_char == D.UNKNOWN and D.UNKNOWN in v.chars
    assert "ß" not in v.stoi and "ẞ" not in v.stoi and "é" in v.stoi
    text = D.load_corpus(mixed).text
    rare = [c for c in set(MIXED) if MIXED.count(c) < 2]        # ß, ẞ and any one-off capital
    assert (enc.ids == v.unknown_id).sum() == len(rare)
    assert len(enc.ids) == len(text)                            # nothing dropped
    assert v.encode("ß€")[0] == v.encode("€")[0] == v.unknown_id   # unseen characters too


def test_max_vocab_keeps_the_most_frequent(mixed):
    v = D.encode_corpus(mixed, max_vocab=10).vocab
    assert len(v) == 10 and v.unknown_char == D.UNKNOWN
    counts = {c: MIXED.count(c) for c in set(MIXED)}
    top9 = sorted(counts, key=lambda c: (-counts[c], ord(c)))[:9]
    assert set(v.chars) == set(top9) | {D.UNKNOWN}


def test_no_folding_when_every_character_is_frequent_enough(mixed):
    v = D.encode_corpus(mixed, min_count=1).vocab
    assert v.unknown_char is None and v == in_memory(mixed)[0]


def test_the_vocabulary_round_trips_through_metadata_and_old_metadata_loads():
    v = D.Vocab.from_counts(np.bincount([97, 97, 98, 99, 99, 99], minlength=200), min_count=2)
    assert v.chars == "ac\ufffd" or v.chars == "".join(sorted("ac\ufffd"))
    back = D.Vocab.from_meta(json.loads(json.dumps(v.to_meta())))
    assert back == v and back.unknown_id == v.unknown_id
    old = D.Vocab.from_meta({"vocab": "abc"})
    assert old.unknown_char is None
    with pytest.raises(CharlstmError, match="outside the vocabulary"):
        old.encode("abz")


def _model_with_unknown():
    from charlstm.model import CharLSTM, ModelConfig
    vocab = D.Vocab("\nab" + D.UNKNOWN, unknown=D.UNKNOWN)
    model = CharLSTM(ModelConfig(vocab_size=len(vocab), hidden_size=8, num_layers=1,
                                 embed_size=4), seed=0, dtype=np.float64)
    model.params["out.b"][vocab.unknown_id] = 5.0      # the unknown symbol is the likeliest
    return model, vocab


def test_sampling_never_emits_the_unknown_symbol_unless_asked():
    from charlstm.sample import sample
    model, vocab = _model_with_unknown()
    rng = np.random.default_rng(0)
    assert D.UNKNOWN not in sample(model, vocab, 300, rng=rng)
    assert D.UNKNOWN not in sample(model, vocab, 50, greedy=True)
    assert D.UNKNOWN in sample(model, vocab, 300, rng=rng, allow_unknown=True)
    assert sample(model, vocab, 5, prime="a€b", rng=rng).startswith("a€b")   # read as unknown


def test_eval_scores_unknown_characters_as_the_unknown_symbol():
    from charlstm.evaluate import score_text
    model, vocab = _model_with_unknown()
    r = score_text(model, vocab, "ab€a\nb")               # --strict refuses it: test_newcomer.py
    assert r["chars"] == 5 and r["unknown"] == {"€": 1}


def test_training_folds_rare_characters_and_resumes(tmp_path):
    from conftest import run_cli
    from charlstm import checkpoint
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_text(6000) + "once: ß ẞ ☃\n", encoding="utf-8")
    run = tmp_path / "run"
    args = ["train", corpus, "--run-dir", run, "--hidden-size", 16, "--embed-size", 8,
            "--layers", 1, "--seq-len", 16, "--batch-size", 4, "--eval-every", 10,
            "--sample-chars", 0, "--quiet"]
    r = run_cli(*args, "--max-steps", 10, "--min-char-count", 2)
    assert r.returncode == 0, r.stderr
    ck = checkpoint.load(run / "latest.npz")
    v = ck.vocab
    assert v.unknown_char == D.UNKNOWN and "ß" not in v.stoi
    assert ck.meta["train"]["min_char_count"] == 2
    r = run_cli("train", "--resume", run, "--max-steps", 20, "--quiet")
    assert r.returncode == 0, r.stderr
    assert checkpoint.load(run / "latest.npz").meta["step"] == 20
    r = run_cli("train", "--resume", run, "--max-steps", 30, "--min-char-count", 3)
    assert r.returncode == 2 and "--min-char-count 3 (run has 2)" in r.stderr
    r = run_cli("sample", run / "latest.npz", "--length", 300, "--seed", 0)
    assert r.returncode == 0 and D.UNKNOWN not in r.stdout


def test_training_on_a_cached_corpus_reads_the_id_file(tmp_path, monkeypatch):
    from charlstm.train import TrainConfig, train
    monkeypatch.setattr(D, "CACHE_MIN_BYTES", 0)
    corpus = tmp_path / "c.txt"
    corpus.write_text(make_text(6000), encoding="utf-8")
    cfg = dict(hidden_size=8, embed_size=4, num_layers=1, seq_len=16, batch_size=4,
               max_steps=4, eval_every=2, sample_chars=0, quiet=True)
    lines = []
    first = train(corpus, TrainConfig(**cfg), run_dir=tmp_path / "a", log=lines.append)
    second = train(corpus, TrainConfig(**cfg), run_dir=tmp_path / "b", log=lines.append)
    assert [ln for ln in lines if "ids from the cache" in ln] and len(list(D.cache_dir().glob("*.ids"))) == 1
    assert first.best_val_loss == second.best_val_loss        # same ids, same run


def test_the_cache_command_lists_and_clears(mixed):
    from conftest import run_cli
    D.encode_corpus(mixed, cache=True)
    r = run_cli("cache")
    assert r.returncode == 0 and str(mixed) in r.stdout and "1 corpora" in r.stdout
    r = run_cli("cache", "--clear")
    assert r.returncode == 0 and "removed 2 files" in r.stdout
    assert "0 corpora" in run_cli("cache").stdout
