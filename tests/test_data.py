"""Corpus loading, vocabulary, encoding, split and batches; every bad corpus input."""

import numpy as np
import pytest

from charlstm.data import Batches, Vocab, fit_streams, load_corpus, split
from charlstm.errors import CharlstmError

from conftest import BAD_CORPORA_PARAMS


def test_file_directory_and_builtin(tmp_path):
    (tmp_path / "b.txt").write_text("world", encoding="utf-8")
    (tmp_path / "a.txt").write_text("hello ", encoding="utf-8")
    (tmp_path / "skip.md").write_text("not me", encoding="utf-8")
    assert load_corpus(tmp_path).text == "hello world"          # sorted, .txt only
    assert load_corpus(tmp_path / "a.txt").text == "hello "
    docs = load_corpus("python-docs")
    assert len(docs.text) > 100_000 and "def" in docs.text and docs.name == "python-docs"


@pytest.mark.parametrize("setup,match", BAD_CORPORA_PARAMS)
def test_bad_corpora_give_clear_errors(tmp_path, setup, match):
    with pytest.raises(CharlstmError, match=match):
        load_corpus(setup(tmp_path))


def test_non_utf8_reports_byte_offset_and_encoding_flag_works(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes("café au lait".encode("latin-1"))
    with pytest.raises(CharlstmError, match=r"byte offset 3 .*--encoding"):
        load_corpus(p)
    assert load_corpus(p, encoding="latin-1").text == "café au lait"
    with pytest.raises(CharlstmError, match="unknown encoding"):
        load_corpus(p, encoding="no-such-codec")


def test_vocab_is_sorted_unicode_and_round_trips():
    text = "héllo wörld ✓ 日本\n"
    vocab, ids = Vocab.build(text)
    assert vocab.chars == "".join(sorted(set(text)))
    assert ids.dtype == np.uint8 and vocab.decode(ids) == text
    assert np.array_equal(vocab.encode(text), ids)
    with pytest.raises(CharlstmError, match="outside the vocabulary.*Z"):
        vocab.encode("Z")
    assert vocab.unknown("hZZq") == {"Z": 2, "q": 1}
    assert vocab.decode(vocab.encode("hZq", strict=False)) == "h"


def test_id_dtype_grows_with_vocabulary():
    text = "".join(chr(0x4E00 + i) for i in range(300))
    vocab, ids = Vocab.build(text * 2)
    assert len(vocab) == 300 and ids.dtype == np.uint16
    assert vocab.decode(ids[:300]) == text


def test_split_is_contiguous():
    ids = np.arange(100)
    tr, va = split(ids, 0.1)
    assert np.array_equal(np.concatenate([tr, va]), ids) and len(va) == 10


def test_batches_are_contiguous_streams():
    ids = np.arange(1 + 3 * 20)                        # 3 streams of 20
    b = Batches(ids, N=3, T=5)
    assert len(b) == 4 and b.chars_per_epoch == 60
    x0, y0 = b.get(0)
    x1, _ = b.get(1)
    assert x0.shape == (3, 5)
    np.testing.assert_array_equal(y0, x0 + 1)          # targets are the next character
    np.testing.assert_array_equal(x1[:, 0], x0[:, -1] + 1)   # each row continues
    np.testing.assert_array_equal(x0[:, 0], [0, 20, 40])
    v = Batches(np.arange(24), N=2, T=5, partial=True)   # 11 chars per stream: 5 + 5 + 1
    assert len(v) == 3 and v.get(2)[0].shape == (2, 1)


def test_fit_streams_shrinks_then_refuses():
    assert fit_streams(1000, 8, 10, "training", 1100, 0.1) == (8, None)
    n, warning = fit_streams(50, 8, 10, "validation", 500, 0.1)
    assert n == 4 and "using 4 streams" in warning
    with pytest.raises(CharlstmError, match=r"has 5 characters .*smallest corpus .* 110 characters"):
        fit_streams(5, 8, 10, "validation", 50, 0.1)
